import { type ReactNode, useEffect, useId, useRef } from 'react';

/**
 * Asks before something that cannot be undone. The browser's own modal <dialog>: it
 * keeps the focus inside, makes the page behind it inert, and closes on Escape. The focus
 * starts on the button that changes nothing, so a stray Enter does no harm.
 */
export function ConfirmDialog({
  open,
  title,
  children,
  confirm,
  dismiss,
  onConfirm,
  onClose,
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  /** The words of the button that does it: "Yes, cancel the run". */
  confirm: string;
  /** The words of the button that changes nothing: "Keep it running". */
  dismiss: string;
  onConfirm(): void;
  onClose(): void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const textId = useId();

  useEffect(() => {
    const element = dialog.current;
    if (element === null) return;
    if (open && !element.open) element.showModal();
    if (!open && element.open) element.close();
  }, [open]);

  return (
    <dialog
      ref={dialog}
      className="confirm"
      aria-labelledby={titleId}
      aria-describedby={textId}
      // Escape closes it: the page is told, so its state says closed too.
      onClose={onClose}
    >
      <h2 id={titleId}>{title}</h2>
      <div id={textId}>{children}</div>
      <div className="row dialog-actions">
        {/* biome-ignore lint/a11y/noAutofocus: a dialog puts the focus on its safe choice. */}
        <button type="button" autoFocus onClick={onClose}>
          {dismiss}
        </button>
        <button
          type="button"
          className="danger"
          onClick={() => {
            onConfirm();
            onClose();
          }}
        >
          {confirm}
        </button>
      </div>
    </dialog>
  );
}
