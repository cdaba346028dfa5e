// A hostile job: everything a tenant's code might try against the other tenants of its
// data plane, the data plane itself and the machine, given what an attacker could know
// (its paths, pids and ports, in plan.json). It prints one line per attempt,
// `ATTEMPT <json>`, with `reached: true` and what it got when the attempt worked, and
// checks its own places work (the controls), so a jail that breaks the job shows too.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';

const plan = JSON.parse(fs.readFileSync(new URL('./plan.json', import.meta.url), 'utf8'));
const canaries = plan.canaries;
const attempts = [];

/** What an attempt got, cut short, with any canary named (that is the point of the suite). */
function evidence(value) {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const found = canaries.filter((c) => text.includes(c));
  return found.length > 0 ? `CANARY ${found.join(',')}: ${text.slice(0, 200)}` : text.slice(0, 200);
}

function attempt(name, fn) {
  let reached = false;
  let detail;
  try {
    const got = fn();
    if (got !== undefined) {
      reached = true;
      detail = evidence(got);
    } else detail = 'nothing';
  } catch (error) {
    detail = error.code ?? error.message?.slice(0, 120);
  }
  attempts.push({ name, reached, detail });
}

async function attemptAsync(name, fn) {
  let reached = false;
  let detail;
  try {
    const got = await fn();
    if (got !== undefined) {
      reached = true;
      detail = evidence(got);
    } else detail = 'nothing';
  } catch (error) {
    detail = error.code ?? error.message?.slice(0, 120);
  }
  attempts.push({ name, reached, detail });
}

/** A file's contents or a directory's entries: anything at all is reaching it. */
function read(path) {
  const info = fs.lstatSync(path);
  if (info.isDirectory()) return fs.readdirSync(path).join(' ');
  return fs.readFileSync(path, 'latin1');
}

// 1. The machine's files: the data planes' data (PGlite, keys, artifacts, working copies,
//    cached bundles), the control plane's home, the other tenant's run, other homes.
for (const path of plan.paths) attempt(`read ${path}`, () => read(path));

/**
 * ptrace(PTRACE_SEIZE) of a pid, through Python's ctypes (Node has no ptrace): a tracer
 * reads and writes its tracee's memory and registers. Seizing does not stop the tracee,
 * and the tracer's exit lets it go: harmless when the suite runs unjailed.
 */
const ptraceScript = `
import ctypes, errno, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
PTRACE_SEIZE = 0x4206
if libc.ptrace(PTRACE_SEIZE, int(sys.argv[1]), None, None) == 0:
    print("seized")
else:
    print(errno.errorcode.get(ctypes.get_errno(), "unknown"))
`;
function ptrace(pid) {
  const said = execFileSync('python3', ['-c', ptraceScript, String(pid)], { stdio: ['ignore', 'pipe', 'pipe'] })
    .toString()
    .trim();
  if (said === 'seized') return `ptrace seized pid ${pid}`;
  throw Object.assign(new Error(said), { code: said });
}

// 2. Other processes: the data plane's environment (its client secret, master key), the
//    other tenant's job (its secret in clear), through /proc, by pid, and by walking it.
for (const pid of plan.pids) {
  attempt(`ptrace host pid ${pid}`, () => ptrace(pid));
  attempt(`environ of host pid ${pid}`, () => fs.readFileSync(`/proc/${pid}/environ`, 'latin1'));
  attempt(`memory of host pid ${pid}`, () => fs.readFileSync(`/proc/${pid}/mem`).length);
  attempt(`cwd of host pid ${pid}`, () => fs.readdirSync(`/proc/${pid}/cwd`).join(' '));
  attempt(`root of host pid ${pid}`, () => fs.readdirSync(`/proc/${pid}/root`).join(' '));
  attempt(`signal host pid ${pid}`, () => {
    process.kill(pid, 0);
    return `pid ${pid} can be signalled`;
  });
}
attempt('any process of another user, or not of this jail, in /proc', () => {
  const mine = process.getuid();
  const others = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const status = fs.readFileSync(`/proc/${name}/status`, 'utf8');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    const cmdline = fs.readFileSync(`/proc/${name}/cmdline`, 'latin1');
    if (uid !== mine || /main\.ts|spawner|postgres|slirp|socat/.test(cmdline)) others.push(`${name}:${uid}`);
  }
  return others.length > 0 ? others.join(' ') : undefined;
});
attempt('a canary or a credential in any visible process', () => {
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    for (const file of ['environ', 'cmdline']) {
      const text = fs.readFileSync(`/proc/${name}/${file}`, 'latin1');
      if (canaries.some((c) => text.includes(c)) || /SOV_CLIENT_SECRET|SOV_MASTER_KEY|SOV_ADMIN_PASSWORD/.test(text)) {
        return `${name}/${file}: ${text}`;
      }
    }
  }
  return undefined;
});

attempt('an id of its data plane in what the jail shows of itself', () => {
  const shown = ['/proc/self/mountinfo', '/proc/1/cmdline', '/proc/self/cgroup', '/etc/hostname']
    .map((path) => {
      try {
        return fs.readFileSync(path, 'latin1');
      } catch {
        return '';
      }
    })
    .join('\n');
  const found = plan.ids.filter((id) => shown.includes(id));
  return found.length > 0 ? `${found.join(', ')} in ${shown.slice(0, 300)}` : undefined;
});

// 3. Sockets: the data plane, the control plane, PostgreSQL and the other tenant's app, on
//    this machine's loopback, through slirp's gateway, and on its other addresses; unix
//    sockets by path (the bridge to the other tenant's app, PostgreSQL's).
const connect = (options) =>
  new Promise((resolve, reject) => {
    const socket = net.connect(options);
    socket.setTimeout(3000, () => {
      socket.destroy();
      reject(Object.assign(new Error('timed out'), { code: 'TIMEOUT' }));
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(`connected to ${JSON.stringify(options)}`);
    });
    socket.once('error', reject);
  });
for (const host of plan.hosts) {
  for (const port of plan.ports) await attemptAsync(`tcp ${host}:${port}`, () => connect({ host, port }));
}
for (const path of plan.sockets) await attemptAsync(`unix ${path}`, () => connect({ path }));
attempt('a named unix socket (abstract or on a path) in the network it is in', () => {
  // Unnamed ones are the job's own pipes; a name is someone listening.
  const named = fs
    .readFileSync('/proc/net/unix', 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .filter((line) => line.trim().split(/\s+/).length >= 8);
  return named.length > 0 ? named.join(' | ') : undefined;
});

// 4. The kernel's and the machine's devices: disks, memory, the kernel log, /sys, cgroups.
for (const path of ['/dev/vda', '/dev/sda', '/dev/nvme0n1', '/dev/mem', '/dev/kmem', '/dev/kmsg', '/dev/port']) {
  attempt(`open ${path}`, () => {
    fs.closeSync(fs.openSync(path, 'r'));
    return `${path} opened`;
  });
}
attempt('/sys', () => fs.readdirSync('/sys').join(' '));
attempt('/sys/fs/cgroup', () => fs.readdirSync('/sys/fs/cgroup').join(' '));
// Opened for writing, never written: the suite also runs unjailed (SOV_TEST_SANDBOX=off),
// where these would change the machine.
attempt('open a kernel setting for writing', () => {
  fs.closeSync(fs.openSync('/proc/sys/kernel/hostname', 'r+'));
  return 'opened /proc/sys/kernel/hostname for writing';
});
attempt('open the sysrq trigger for writing', () => {
  fs.closeSync(fs.openSync('/proc/sysrq-trigger', 'r+'));
  return 'opened /proc/sysrq-trigger for writing';
});

// 5. Privileges: root, capabilities, a user namespace of its own, setuid binaries.
attempt('uid 0 inside the jail', () => (process.getuid() === 0 ? 'uid 0' : undefined));
attempt('capabilities', () => {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const eff = /^CapEff:\s+([0-9a-f]+)/m.exec(status)?.[1];
  return eff !== undefined && BigInt(`0x${eff}`) !== 0n ? `CapEff ${eff}` : undefined;
});
attempt('gaining privileges (no_new_privs unset)', () => {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  return /^NoNewPrivs:\s+1/m.test(status) ? undefined : 'NoNewPrivs is 0';
});
attempt('a user namespace of its own (unshare -U)', () =>
  execFileSync('unshare', ['-U', '-r', 'id', '-u'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString(),
);
attempt('a mount namespace of its own (the power to mount)', () => {
  execFileSync('unshare', ['--mount', 'true'], { stdio: 'ignore' });
  return 'made a mount namespace';
});
attempt('password hashes in /etc/shadow', () => {
  const text = fs.readFileSync('/etc/shadow', 'utf8');
  return text.trim() === '' ? undefined : text;
});
attempt('change the data plane’s Node', () => {
  fs.appendFileSync(process.execPath, '');
  return `${process.execPath} is writable`;
});

// 6. The controls: the job's own places work, so an attempt above that fails does so
//    because of the jail, not because this job is broken.
const controls = {
  ownSecret: process.env.A_SECRET === plan.ownSecret,
  ownFile: fs.readFileSync('own.txt', 'utf8') === 'mine\n',
  ownTmp: (() => {
    fs.writeFileSync('/tmp/mine.txt', 'x');
    return fs.readFileSync('/tmp/mine.txt', 'utf8') === 'x';
  })(),
  ownOutput: (() => {
    fs.writeFileSync(`${process.env.SOV_OUTPUT_DIR}/attempts.json`, JSON.stringify(attempts));
    return true;
  })(),
  uid: process.getuid(),
  // A process of its own it may trace: ptrace works here, and is refused above for what is not its own.
  ownPtrace: (() => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      return ptrace(child.pid) === `ptrace seized pid ${child.pid}`;
    } catch (error) {
      return `ptrace of its own child: ${error.message}`;
    } finally {
      child.kill('SIGKILL');
    }
  })(),
};

for (const a of attempts) console.log(`ATTEMPT ${JSON.stringify(a)}`);
console.log(`CONTROLS ${JSON.stringify(controls)}`);
