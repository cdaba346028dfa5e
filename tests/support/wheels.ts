import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';

/**
 * A pure-Python wheel built here, into `dir`, by Python's own zipfile: tests run with no
 * package index, so a wheelhouse (pip's --find-links) stands in for the region's mirror.
 * `modules` maps a module's file name to its source.
 */
export function buildWheel(dir: string, name: string, version: string, modules: Record<string, string>): string {
  const script = `
import base64, hashlib, json, sys, zipfile
dir, name, version, modules = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
dist = name.replace('-', '_')
info = f"{dist}-{version}.dist-info"
files = dict(modules)
files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n"
files[f"{info}/WHEEL"] = "Wheel-Version: 1.0\\nGenerator: sovereign-tests\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
record = []
for path, text in files.items():
    data = text.encode()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
    record.append(f"{path},sha256={digest},{len(data)}")
record.append(f"{info}/RECORD,,")
files[f"{info}/RECORD"] = "\\n".join(record) + "\\n"
path = f"{dir}/{dist}-{version}-py3-none-any.whl"
with zipfile.ZipFile(path, "w") as wheel:
    for name_in, text in files.items():
        wheel.writestr(name_in, text)
print(path)
`;
  const path = execFileSync('python3', ['-c', script, dir, name, version, JSON.stringify(modules)], {
    encoding: 'utf8',
  }).trim();
  // A build's jail reads it as a user of its own.
  chmodSync(dir, 0o755);
  chmodSync(path, 0o644);
  return path;
}
