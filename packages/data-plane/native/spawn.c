// Process creation for the data plane's spawner without copying its page tables.
//
// Node's child_process forks (libuv uses fork() on Linux): the kernel copies the page
// tables of the whole Node process, then throws them away at exec. Here, a jail's start
// costs two such forks. This module starts a program with clone(CLONE_VM | CLONE_VFORK):
// the child borrows the parent's memory until it calls execve, so nothing is copied, and
// the calling thread waits the few microseconds until then.
//
// The child runs on its own stack, in the parent's memory, so it makes raw system calls
// only: glibc's setuid() would signal the parent's threads (it changes every thread's
// ids), and its errno is the parent thread's.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_FDS 64
#define STACK_BYTES (64 * 1024)

struct plan {
  const char *file;
  char **argv;
  char **envp;
  int fds[MAX_FDS];
  int nfds;
  long uid;
  long gid;
  int setsid;
  const char *cwd;
  int error; // set by the child when it cannot exec: the parent reads it once the child has gone
};

/** The kernel's own sigaction (rt_sigaction takes this, not glibc's larger struct). */
struct kernel_sigaction {
  void *handler;
  unsigned long flags;
  void *restorer;
  unsigned long mask;
};

static int child_main(void *arg) {
  struct plan *p = arg;
  // A clean slate of signals: handled ones go back to their default at exec on their own,
  // ignored ones (Node ignores SIGPIPE) would stay ignored, and the mask would be kept.
  struct kernel_sigaction default_action = {0};
  for (int sig = 1; sig < _NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    syscall(SYS_rt_sigaction, sig, &default_action, NULL, sizeof default_action.mask);
  }
  unsigned long empty = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, NULL, sizeof empty);
  if (p->setsid && syscall(SYS_setsid) < 0) goto fail;
  if (p->gid >= 0) {
    if (syscall(SYS_setgroups, 0, NULL) < 0 && syscall(SYS_getuid) == 0) goto fail;
    if (syscall(SYS_setresgid, p->gid, p->gid, p->gid) < 0) goto fail;
  }
  if (p->uid >= 0 && syscall(SYS_setresuid, p->uid, p->uid, p->uid) < 0) goto fail;
  if (p->cwd != NULL && syscall(SYS_chdir, p->cwd) < 0) goto fail;
  // Every source above the targets first, so that no dup2 overwrites a source still to come.
  int moved[MAX_FDS];
  for (int i = 0; i < p->nfds; i++) {
    moved[i] = p->fds[i] < 0 ? -1 : (int)syscall(SYS_fcntl, p->fds[i], F_DUPFD, p->nfds);
    if (p->fds[i] >= 0 && moved[i] < 0) goto fail;
  }
  for (int i = 0; i < p->nfds; i++) {
    if (moved[i] < 0) continue;
    if (syscall(SYS_dup2, moved[i], i) < 0) goto fail;
  }
  // Nothing else of the parent's crosses: its sockets, its database connections.
#ifdef SYS_close_range
  if (syscall(SYS_close_range, p->nfds, ~0U, 0) < 0)
#endif
  {
    for (int fd = p->nfds; fd < 65536; fd++) syscall(SYS_close, fd);
  }
  syscall(SYS_execve, p->file, p->argv, p->envp);
fail:
  p->error = errno;
  syscall(SYS_exit, 127);
  return 127;
}


static napi_value fail(napi_env env, const char *what, int error) {
  char message[512];
  snprintf(message, sizeof message, "%s: %s", what, strerror(error));
  napi_throw_error(env, NULL, message);
  return NULL;
}

/** A JavaScript string as a new C string (free() it), or NULL if it is not a string. */
static char *string_of(napi_env env, napi_value value) {
  size_t length;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) return NULL;
  char *text = malloc(length + 1);
  if (text == NULL) return NULL;
  napi_get_value_string_utf8(env, value, text, length + 1, &length);
  // A NUL inside would cut the text short where the program reads it: refused.
  if (strlen(text) != length) {
    free(text);
    return NULL;
  }
  return text;
}

static napi_value property(napi_env env, napi_value object, const char *name) {
  napi_value value;
  if (napi_get_named_property(env, object, name, &value) != napi_ok) return NULL;
  return value;
}

static void free_strings(char **list) {
  if (list == NULL) return;
  for (char **item = list; *item != NULL; item++) free(*item);
  free(list);
}

/** An array of strings as a NULL-terminated C array, or NULL (and *ok = 0) if it is not one. */
static char **strings_of(napi_env env, napi_value array, int *ok) {
  uint32_t length;
  *ok = 0;
  if (napi_get_array_length(env, array, &length) != napi_ok) return NULL;
  char **list = calloc(length + 1, sizeof *list);
  if (list == NULL) return NULL;
  for (uint32_t i = 0; i < length; i++) {
    napi_value item;
    napi_get_element(env, array, i, &item);
    list[i] = string_of(env, item);
    if (list[i] == NULL) {
      free_strings(list);
      return NULL;
    }
  }
  *ok = 1;
  return list;
}

static long long_of(napi_env env, napi_value value, long fallback) {
  int64_t number;
  if (value == NULL || napi_get_value_int64(env, value, &number) != napi_ok) return fallback;
  return (long)number;
}

/**
 * spawn({ file, args, env, fds, uid?, gid?, setsid?, cwd? }): the child's pid. `fds[i]` is
 * the parent's descriptor that becomes the child's descriptor i (-1: none); every other
 * descriptor is closed in the child. Throws if the program could not be started.
 */
static napi_value spawn(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value options;
  napi_get_cb_info(env, info, &argc, &options, NULL, NULL);
  if (argc < 1) return fail(env, "spawn", EINVAL);
  struct plan p = {0};
  int ok_args = 0, ok_env = 0;
  napi_value cwd = property(env, options, "cwd");
  napi_valuetype cwd_type = napi_undefined;
  if (cwd != NULL) napi_typeof(env, cwd, &cwd_type);
  char *file = string_of(env, property(env, options, "file"));
  char **argv = strings_of(env, property(env, options, "args"), &ok_args);
  char **envp = strings_of(env, property(env, options, "env"), &ok_env);
  char *dir = cwd_type == napi_string ? string_of(env, cwd) : NULL;
  napi_value fds = property(env, options, "fds");
  uint32_t nfds = 0;
  napi_value result = NULL;
  void *stack = NULL;
  if (file == NULL || !ok_args || !ok_env || (cwd_type == napi_string && dir == NULL) ||
      napi_get_array_length(env, fds, &nfds) != napi_ok || nfds > MAX_FDS) {
    fail(env, "spawn: bad options", EINVAL);
    goto done;
  }
  for (uint32_t i = 0; i < nfds; i++) {
    napi_value item;
    napi_get_element(env, fds, i, &item);
    p.fds[i] = (int)long_of(env, item, -1);
  }
  p.file = file;
  p.argv = argv;
  p.envp = envp;
  p.nfds = (int)nfds;
  p.uid = long_of(env, property(env, options, "uid"), -1);
  p.gid = long_of(env, property(env, options, "gid"), -1);
  p.cwd = dir;
  bool setsid_flag = false;
  napi_value setsid_value = property(env, options, "setsid");
  if (setsid_value != NULL) napi_get_value_bool(env, setsid_value, &setsid_flag);
  p.setsid = setsid_flag;
  stack = malloc(STACK_BYTES);
  if (stack == NULL) {
    fail(env, "spawn", ENOMEM);
    goto done;
  }
  int pid = clone(child_main, (char *)stack + STACK_BYTES, CLONE_VM | CLONE_VFORK | SIGCHLD, &p);
  if (pid < 0) {
    fail(env, "spawn: clone", errno);
    goto done;
  }
  if (p.error != 0) {
    // It ended without its program: reaped here, never left a zombie.
    waitpid(pid, NULL, 0);
    fail(env, file, p.error);
    goto done;
  }
  napi_create_int32(env, pid, &result);
done:
  free(stack);
  free(file);
  free(dir);
  free_strings(argv);
  free_strings(envp);
  return result;
}

static napi_value pair(napi_env env, int fds[2]) {
  napi_value array, a, b;
  napi_create_array_with_length(env, 2, &array);
  napi_create_int32(env, fds[0], &a);
  napi_create_int32(env, fds[1], &b);
  napi_set_element(env, array, 0, a);
  napi_set_element(env, array, 1, b);
  return array;
}

/** socketpair(): two connected stream sockets, [ours, theirs], both close-on-exec. */
static napi_value socket_pair(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) return fail(env, "socketpair", errno);
  return pair(env, fds);
}

/** reap(pid): null while it runs; { code, signal } once it has ended (and it is reaped). */
static napi_value reap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg, result;
  napi_get_cb_info(env, info, &argc, &arg, NULL, NULL);
  int pid = (int)long_of(env, argc < 1 ? NULL : arg, -1);
  if (pid <= 0) return fail(env, "reap", EINVAL);
  int status;
  int got = waitpid(pid, &status, WNOHANG);
  if (got < 0) return fail(env, "reap", errno);
  if (got == 0) {
    napi_get_null(env, &result);
    return result;
  }
  napi_value code, signal;
  napi_create_object(env, &result);
  if (WIFEXITED(status)) napi_create_int32(env, WEXITSTATUS(status), &code);
  else napi_get_null(env, &code);
  if (WIFSIGNALED(status)) napi_create_int32(env, WTERMSIG(status), &signal);
  else napi_get_null(env, &signal);
  napi_set_named_property(env, result, "code", code);
  napi_set_named_property(env, result, "signal", signal);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"spawn", NULL, spawn, NULL, NULL, NULL, napi_default, NULL},
      {"socketPair", NULL, socket_pair, NULL, NULL, NULL, napi_default, NULL},
      {"reap", NULL, reap, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof methods / sizeof *methods, methods);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
