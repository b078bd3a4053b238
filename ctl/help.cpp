// Help texts for `ublk --help` and `ublk help COMMAND`. add's backend
// options come from the target types' tables, so the help lists what the
// parser takes.
#include "option_table.h"
#include "options.h"
#include "registry.h"

namespace ublk {
namespace {

// The options every target shares. `backend` names the option TargetTakes
// is asked about; empty for those every type takes.
struct CommonOption {
  std::string_view backend;
  std::string_view text;
};

constexpr CommonOption kCommonOptions[] = {
    {"", R"(  -t, --type TYPE       backend (required), one of the types below
  -n, --number ID       device id (default: the kernel picks the lowest free)
  -q, --queues N        hardware queues, one server thread each (default 1;
                        at most one per possible CPU: more is taken as that
                        many, with a note, as the kernel and the reference
                        server do)
  -d, --depth N         requests in flight per queue, 1-4096 (default 128)
)"},
    {"size", R"(      --size SIZE       device size; bytes or K/M/G/T (binary) suffix
                        (null default: 250G; nvme: the namespace, refused
                        for a zoned one; loop: the backing store past its
                        offset, rounded down to whole blocks)
)"},
    {"file", R"(  -f, --file PATH       backing file or device (required by the types
                        that have one, refused by the others); nbd: the
                        server's URI, nbd://HOST[:PORT][/EXPORT] (port
                        10809 by default) or nbd+unix:///EXPORT?socket=PATH
)"},
    {"read-only", R"(      --read-only       the device refuses writes (blockdev --getro is 1,
                        writes fail with EPERM or EROFS) and the backend is
                        opened read-only (loop: also implied when the
                        backing store cannot be opened for writing)
)"},
    {"", R"(      --name NAME       a label shown by 'ublk list'
      --config FILE     read the device from a TOML file whose keys are these
                        long options, strings quoted, numbers and booleans
                        bare (type = "loop", file = "/var/lib/d.img",
                        queues = 2, recovery = true); options on the command
                        line override it; the device is named after the file
                        (/etc/ublk/data.toml: data) unless it has a name key
      --foreground      keep the server in the foreground, logging to stderr
                        (for systemd); stops on SIGTERM or Ctrl-C
      --json            print the result as JSON
  -r, --recovery        keep the device when its server dies (user recovery):
                        it waits, the file system on it stays mounted, until
                        'ublk recover -n ID' starts a new server (a
                        --foreground server restarted by systemd does that
                        by itself). Without -r the device is deleted.
      --recovery-mode reissue|fail-io|fail-inflight
                        what I/O does while no server runs (implies -r):
                          reissue (the default for -r; USER_RECOVERY_REISSUE,
                            Linux 6.1+): new I/O waits, and what the dead
                            server had in flight is sent again to the new one
                          fail-io (USER_RECOVERY_FAIL_IO, Linux 6.13+): I/O
                            fails with an error until the device is recovered
                          fail-inflight (USER_RECOVERY alone, Linux 6.0+):
                            what the dead server had in flight fails, new
                            I/O waits for the new server
                        Refused in one line on a kernel without the feature,
                        and with --zero-copy=explicit (see docs/reliability.md).
  -r 0|1, -i 0|1, -e 0|1
                        the reference server's spellings: -r 1 is
                        fail-inflight, -i 1 reissue, -e 1 fail-io (-i 1 with
                        -e 1 is refused); 0 asks for nothing
)"},
    {"zero-copy", R"(  -z, --zero-copy[=auto|explicit|off]
                        how request data reaches the backend (null, which
                        copies nothing either way, takes it as the reference
                        server's null does; its data path stays none):
                          auto (a bare -z): zero copy by automatic buffer
                            registration (ublk feature AUTO_BUF_REG, Linux
                            6.16+): the request's own pages go to the backend
                            I/O, the server holds no data buffers
                          explicit: zero copy, registering each request's
                            pages around its backend I/O (register -> I/O ->
                            unregister); slower than auto, same kernels
                          off: copy through the server's per-tag buffers
                        Without -z the server uses auto where the kernel has
                        it and copies elsewhere (nbd: copies unless asked;
                        it takes auto only); -z on a kernel without zero
                        copy is refused. add and list show the data path.
                        --zerocopy (the reference spelling) is a bare -z.
)"},
    {"", R"(      --usercopy        the server copies request data itself, by read and
                        write on /dev/ublkcN (USER_COPY, Linux 6.5+), not
                        the kernel into per-tag buffers; not with -z
  -g, --need_get_data 0|1
                        1: a write reaches the server without its data and
                        the server fetches it (NEED_GET_DATA); copy path only
      --shmem_zc --htlb PATH
                        serve requests whose pages lie in memory shared with
                        the application (SHMEM_ZC, Linux 7.1) without a copy;
                        --htlb names the hugetlbfs (or tmpfs) file both map,
                        at most 1G; other requests are copied as usual
      --metrics on|off  live per-queue counters and latency histograms for
                        'ublk stats' (default on; off saves their cost, see
                        the README's performance section)
      --metrics-file PATH
                        the server rewrites PATH (absolute; a temporary file
                        renamed over it) every 10 s with what 'ublk stats
                        --prometheus' prints for the device, for
                        node_exporter's textfile collector (name it *.prom
                        in its folder); removed when the device is deleted
      --poll-us N       a queue thread with nothing to do checks its ring for
                        up to N microseconds (0-10000; default 0) before it
                        sleeps, which saves a sleep and a wake-up per request
                        at low queue depth for a CPU kept busy meanwhile; it
                        stops spinning while waits run longer than N (see the
                        README's performance section for when it helps)
      --threads N       N server threads, each with its own ring (default one
                        per queue); more threads than queues split each
                        queue's tags among them (tag % threads-of-the-queue),
                        which needs PER_IO_DAEMON (Linux 6.16+) and excludes
                        --batch; fewer than queues are refused
      --cpus LIST       pin server thread i to the i-th CPU of LIST (0-3,6;
                        round robin); default: each thread on one CPU of its
                        queue's affinity, a queue's threads and one-queue
                        devices (by id) spread over it
      --no-partition-scan
                        the kernel does not scan the new disk for partitions
                        (NO_AUTO_PART_SCAN, Linux 7.0+), for a disk that
                        holds a guest's own partition table
      --max_io_buf_bytes N
                        the largest request in bytes, a multiple of 4096 up
                        to 32M (default 512K; a backend may lower it)
  -u, --uring_comp 0|1  accepted for the reference server's scripts: every
                        kernel this server runs on completes in the issuing
                        task (URING_CMD_COMP_IN_TASK) either way
  -b, --batch[=on|off]  the queues talk to the kernel in batch commands
                        (UBLK_F_BATCH_IO, Linux 7.0+): one PREP_IO_CMDS per
                        queue, a multishot FETCH_IO_CMDS for new requests,
                        one COMMIT_IO_CMDS per pass for all it finished
                        (default off, the per-tag commands: batch measured
                        ahead only at high queue depth on one CPU, behind
                        at iodepth 1, see the README; refused where the
                        kernel lacks it; not with -g or more threads than
                        queues). Shown by 'ublk list' as "batch commands".
                        A zoned namespace then takes user copy, not -z
                        (the kernel's batch commit loses a zone append's
                        sector with it); restart needs recovery mode
                        reissue. --batch-io is the same
      --user_recovery 0|1
                        the reference spelling of -r 0|1
)"},
};

constexpr std::string_view kTestingOptions =
    R"(      --stall-before-start SECONDS
                        the server sleeps this long before START_DEV, so a
                        test can kill it there (0-3600; default 0)
      --stall-before-stop SECONDS
                        the server sleeps this long before STOP_DEV when it
                        stops (0-3600; default 0)
)";
constexpr std::string_view kForceAutoFallback =
    R"(      --force-auto-fallback
                        with --zero-copy=auto only: every queue keeps the
                        automatic registration slots busy, so each request
                        takes the kernel's fallback and is registered by
                        hand (REGISTER_IO_BUF)
)";

constexpr std::string_view kExamples[] = {
    "  sudo ublk add -t null -q 2 -d 256 --size 100G --name scratch\n",
    "  sudo ublk add -t loop -f /var/lib/disk.img -q 2\n",
    "  sudo ublk add -t loop -f /dev/nvme0n1 --logical-block-size 4096 "
    "--read-only\n",
    "  sudo ublk add -t nvme -f /dev/ng0n1 -q 2 -z\n",
    "  sudo ublk add -t nvme -f /dev/ng0n1 --read-only\n",
    "  sudo ublk add -t nvme -f /dev/ng0n1 --poll   # the controller's poll "
    "queues\n",
    "  sudo ublk add -t loop -f disk.img -r        # survives its server's "
    "death\n",
    "  sudo ublk add -t nbd -f nbd://storage.example:10809/vm1\n",
    "  sudo ublk add -t nbd -f 'nbd+unix:///?socket=/run/nbdkit.sock' -q 2\n",
};

constexpr std::string_view kLoopNotes = R"(
A loop backing store is refused when it is missing, a directory, smaller
than one block, already served by another ublk device, or (block devices)
mounted or claimed by another driver. Discard, write-zeroes and a volatile
write cache (FLUSH, FUA) are advertised only when the backing store has them.
)";

constexpr std::string_view kNbdNotes = R"(
An nbd device takes its size, read-only state, FLUSH/FUA, discard,
write-zeroes and block sizes from the server's handshake (NBD_OPT_GO) at add,
and advertises only what the server supports. -q N opens one connection per
queue and needs a server that allows it (NBD_FLAG_CAN_MULTI_CONN). Data is
copied through the server's buffers unless -z (--zero-copy=auto, Linux
6.16+) is given: then a WRITE's data goes to the socket from the request's
own pages and a READ's comes from it straight into them, over simple
replies (no --zero-copy=explicit, no --usercopy). An unreachable
server, an unknown export or a broken handshake (bad magic, a reply cut
short, too long or to another option, the connection closed) is refused at
add. A connection that breaks later is made again: I/O in flight is sent
again and new I/O waits, for up to --reconnect-timeout; past it I/O fails
with EIO until the server is back. Structured replies are used when the
server offers them (list: "connected, structured replies"). A reply that
breaks the protocol (bad magic, a cookie of no request in flight, a chunk
outside its request) fails the requests already sent with EIO and makes the
connection again.
)";

// "      --offset SIZE     where ...", help lines at column 24.
std::string OptionLines(const TargetOptionDef& def) {
  std::string head = "      --" + std::string(def.name);
  if (!def.value_name.empty()) head += " " + std::string(def.value_name);
  std::string out = head;
  constexpr size_t kColumn = 24;
  bool first = true;
  std::string_view help = def.help;
  while (true) {
    size_t nl = help.find('\n');
    std::string_view line = help.substr(0, nl);
    if (first && head.size() + 2 <= kColumn)
      out += std::string(kColumn - head.size(), ' ');
    else
      out += "\n" + std::string(kColumn, ' ');
    out += line;
    first = false;
    if (nl == std::string_view::npos) break;
    help = help.substr(nl + 1);
  }
  return out + "\n";
}

// What one type takes, from its row: the backend options shared with
// others and its own, each with its help.
std::string TypeSection(const TargetType& t) {
  std::string takes;
  auto add = [&](const std::string& what) {
    takes += (takes.empty() ? "" : ", ") + what;
  };
  if (t.file == FileUse::kRequired) add("-f (required)");
  if (t.takes_size) add("--size");
  if (t.takes_read_only) add("--read-only");
  if (TargetTakes(t, "zero-copy")) add("-z");
  std::string refuses;
  auto refuse = [&](const std::string& what) {
    refuses += (refuses.empty() ? "" : ", ") + what;
  };
  if (t.file == FileUse::kNone) refuse("-f");
  if (!t.takes_size) refuse("--size");
  if (!t.takes_read_only) refuse("--read-only");
  if (!TargetTakes(t, "zero-copy")) refuse("-z");
  std::string out = std::string(t.name) + ": " + std::string(t.summary) + "\n";
  out += "  takes " + (takes.empty() ? std::string("no backend options") : takes);
  if (!t.options.empty()) out += ", and its own:";
  out += "\n";
  for (const TargetOptionDef& def : t.options) out += OptionLines(def);
  if (!refuses.empty()) out += "  refuses " + refuses + "\n";
  return out;
}

std::string AddHelp(const std::string& target) {
  const TargetType* only = nullptr;
  if (!target.empty()) {
    only = FindTargetType(target);
    if (only == nullptr) return "";
  }
  std::string out =
      "usage: ublk add -t " + (only ? target : std::string("TYPE")) +
      R"( [options]

Creates /dev/ublkbN, starts its server in the background and returns once the
device is live, printing its id, block device, queues, depth and the ublk
features in use. On any error nothing is left behind. An option the type
does not take is refused in one line, creating nothing.

Without root (Linux 6.3+, UBLK_F_UNPRIVILEGED_DEV): a member of group ublk,
which the package's udev rule lets open /dev/ublk-control, makes a device of
their own. udev gives /dev/ublkcN and /dev/ublkbN to that user (mode 0600)
before add returns; the server runs as the user and opens nothing the user
could not. The kernel refuses such a device zero copy (-z), user copy
(--usercopy) and recovery (-r), and with them zoned and integrity NVMe
namespaces: add refuses each in one line. Without -d, a loop or nvme
device gets the depth whose pinned per-tag buffers fit half the user's
locked-memory limit (ulimit -l), with a line saying so. Its state is in
/run/ublk/UID.
Other users cannot open, list, stop or delete it; root manages every
device. Without access to /dev/ublk-control add says how to get it.

options:
)";
  for (const CommonOption& c : kCommonOptions)
    if (only == nullptr || c.backend.empty() || TargetTakes(*only, c.backend))
      out += c.text;
  out += only ? "\n"
              : "\ntypes and the options each takes ('ublk help add -t TYPE' "
                "shows one):\n";
  for (const TargetType& t : TargetTypes())
    if (only == nullptr || &t == only) out += TypeSection(t);
  out += "\ntesting (for test suites; each changes only what it says):\n";
  out += kTestingOptions;
  if (only == nullptr || only->data_access == DataAccess::kBuffer)
    out += kForceAutoFallback;
  out += "\nexamples:\n";
  for (std::string_view e : kExamples)
    if (only == nullptr ||
        e.find("-t " + target + " ") != std::string_view::npos)
      out += e;
  if (only == nullptr || target == "loop") out += kLoopNotes;
  if (only == nullptr || target == "nbd") out += kNbdNotes;
  return out;
}

}  // namespace

std::string HelpText(const std::string& topic, const std::string& target) {
  if (topic.empty()) {
    return R"(ublk - serve block devices /dev/ublkbN from user space (Linux ublk_drv)

usage: ublk COMMAND [OPTIONS]

commands:
  add       create a device and start its server      (ublk help add)
  del       stop and delete devices                   (ublk help del)
  list      show devices, their state and servers     (ublk help list)
  recover   give a device whose server died a new one (ublk help recover)
  restart   a new server for a running device          (ublk help restart)
  resize    change a running device's size            (ublk help resize)
  stats     live counters, IOPS, latency percentiles  (ublk help stats)
  features  show the ublk features of this kernel     (ublk help features)
  help      show help for a command

options:
  -h, --help     this text
  -V, --version  print the version

examples:
  sudo ublk add -t null --size 10G        # /dev/ublkb0, reads/writes go nowhere
  sudo ublk list
  sudo ublk del -n 0

Needs root and the ublk_drv module (modprobe ublk_drv). Each device has its
own server process; its state is kept in /run/ublk/<id>.json.

environment:
  UBLK_STATE_DIR  folder of the state files instead of /run/ublk (owned by
                  you, not writable by group or others; list, del and
                  recover must be given the same one)
  UBLK_SERVER     the ublk-server program to start (default: beside ublk,
                  or ../libexec/ublk/ublk-server relative to it)
  UBLK_LOG_LEVEL  the server's log level: trace, debug, info (default),
                  warn, error
)";
  }
  if (topic == "add") return AddHelp(target);
  if (topic == "del") {
    return R"(usage: ublk del -n ID | -a [--safe]

Stops the device's server (SIGTERM), which removes the disk, completes or
fails what is in flight, and deletes the device. Returns within seconds even
while the device is in use: its users see I/O errors from then on.

A mounted file system is not an obstacle: before the disk goes away the
kernel writes the file system's dirty data and metadata out through the
still-running server (a loop device's backing store then holds everything
written before del), and shuts the file system down. The mount stays,
failing every access, until you unmount it. Unmount first to avoid that,
or use --safe.

With --safe (TRY_STOP_DEV, Linux 7.0+) a device that is open - mounted, in
use by a process, or held by another block device - is refused in one line
and left as it was; one nobody uses is deleted as above.

Deleting a device that does not exist says so in one line and succeeds
(exit 0), as the reference server's del does.

A device whose server is killed or crashes without recovery (-r) is deleted
by the server's guardian process at once, where the reference server leaves
it DEAD for you to delete: no device without a server is left behind, and a
script's 'ublk del -n ID' afterwards succeeds as above.

options:
  -n, --number ID   the device to delete
  -a, --all         delete every ublk device
      --safe        only if nobody has the device open (Linux 7.0+)
)";
  }
  if (topic == "recover") {
    return R"(usage: ublk recover -n ID [--json]

Starts a new server for device ID, made with 'ublk add -r', whose server
died (killed, crashed): the device is QUIESCED (reissue mode: I/O waits) or
FAIL_IO (fail-io mode: I/O fails). The new server takes the spec from the
state file /run/ublk/ID.json, takes the device over (START_USER_RECOVERY,
fetches every request slot, END_USER_RECOVERY) and returns once the device
is LIVE again, printing what 'add' prints. In reissue mode I/O that was in
flight when the server died is sent again to the new server; in fail-io mode
it failed back to the application. A mounted file system stays mounted.

Refused, in one line and changing nothing, when the device does not exist,
was made without -r, still has a running server, is not waiting for one
(LIVE or DEAD), or when its state file is missing, does not match the
kernel's device (queues, depth, features) or names another backing file
than the one the device was made on (replaced, resized, path edited).

options:
  -n, --number ID   the device to recover (required)
      --json        print the result as JSON

A server started with 'ublk add --foreground -n ID -r ...' (e.g. by systemd
with Restart=) recovers its device by itself when it finds it waiting.
)";
  }
  if (topic == "list") {
    return R"(usage: ublk list [-n ID] [--json]

Shows each device the kernel knows, from the kernel's device info and the
server's state file /run/ublk/<id>.json, in the reference server's (ublksrv)
layout, so scripts written for it parse it unchanged; 'ublk add' and
'ublk recover' print the same:

  dev id 0: nr_hw_queues 2 queue_depth 128 block size 512 dev_capacity 2097152
  	max rq size 524288 daemon pid 812 state LIVE
  	flags 0x8c2 [ URING_CMD_COMP_IN_TASK CMD_IOCTL_ENCODE USER_COPY ... ]
  	ublkc: 245:0 ublkb: 259:0 owner: 0:0
  	queue 0: tid 813 affinity(0 )
  	queue 1: tid 814 affinity(1 )
  	target {"dev_size":1073741824,"name":"null"}
  	name scratch
  	data path none, recovery off, size 1 GiB, /dev/ublkb0

dev_capacity counts 512-byte sectors; state is LIVE, DEAD, QUIESCED or
FAIL_IO; the flags are the device's UBLK_F_* bits (the reference's names,
then the others); tid is the thread serving the queue; target holds the
type, the size in bytes and the backing file. The last two lines are this
server's own: the name given with --name ("-" for none), the data path
(copy, none, zero-copy/auto, zero-copy/explicit), the recovery mode, the
size and the block device.

options:
  -n, --number ID   only this device (an error if it does not exist)
      --json        print JSON (an array of objects); -v, --verbose (the
                    reference spelling) is the same
)";
  }
  if (topic == "restart") {
    return R"(usage: ublk restart -n ID | --name NAME

Replaces a running device's server with a new one - the program installed
now, for example after a package upgrade - without an I/O error and without
unmounting. The server parks the device: with the ublk feature QUIESCE
(Linux 6.16+) QUIESCE_DEV lets what is in flight complete first; on older
kernels, and for a device with batch commands (whose QUIESCE_DEV fails the
I/O that arrives meanwhile), in recovery mode reissue, the kernel requeues
what was in flight.
Then the server's guardian starts the new server, which takes the device
over as 'ublk recover' does. Returns once the device is LIVE again, printing
the new server's pid. Under systemd: systemctl reload ublk@NAME.

Refused in one line when the device was made without recovery (-r), is not
LIVE, or (without QUIESCE, or with batch commands) is not in recovery mode
reissue.

options:
  -n, --number ID   the device
      --name NAME   the device of that name (ublk add --name, or the NAME
                    of /etc/ublk/NAME.toml)
)";
  }
  if (topic == "resize") {
    return R"(usage: ublk resize -n ID | --name NAME --size SIZE

Changes a running device's capacity (ublk feature UPDATE_SIZE, Linux
6.16+): the block device's size changes while it is mounted; grow the file
system after it (resize2fs for ext4, xfs_growfs). For loop, grow the
backing file first (truncate -s, lvextend): the new size must fit in it.
null takes any size; nvme up to the namespace's (a zoned one keeps its
size). Shrinking is allowed: the
server does not know what a file system keeps past the new end, so shrink
the file system first.

options:
  -n, --number ID   the device
      --name NAME   the device of that name
      --size SIZE   the new size; bytes or K/M/G/T (binary) suffix, a
                    multiple of the device's logical block size
)";
  }
  if (topic == "stats") {
    return R"(usage: ublk stats [-n ID | --name NAME] [--json] [--watch SECONDS]
       ublk stats [-n ID | --name NAME] --prometheus

Shows what a device's server is doing, read from the counters each queue
thread keeps in /run/ublk/<id>.metrics while it serves (the server is not
stopped or asked anything). Without -n or --name: every device that has
metrics. For each queue and in total: requests, IOPS, MB/s, requests in
flight, errors; for each operation (read, write, flush, discard,
write_zeroes, zone_append, zone_mgmt, report_zones): requests, IOPS, MB/s,
errors and the 50th, 99th and 99.9th percentile of the time from the fetch
of a request to its commit, in microseconds, from a histogram of log2
buckets (1 us to 16.8 s; resolution: one pass of the queue's loop). Errors
are also counted by errno.

The first report covers the time since the server started; with --watch,
one report every SECONDS (1-3600) covers the interval since the one before,
like 'iostat -x 1', until interrupted. A new server (recover, restart)
starts counting from zero.

Refused in one line for a device that does not exist, for one without
metrics (made with --metrics=off), and for one whose server is not running
(a recovery device waiting for 'ublk recover').

options:
  -n, --number ID       the device
      --name NAME       the device of that name
      --json            print JSON: an array with one object per device
                        (with --watch: one such array per line)
      --watch SECONDS   report every SECONDS
      --prometheus      print the Prometheus text format (counters
                        ublk_requests_total, ublk_bytes_total,
                        ublk_request_errors_total, ublk_errors_total; gauge
                        ublk_in_flight_requests; histogram
                        ublk_request_duration_seconds; labels device, name,
                        queue, op, errno); 'ublk add --metrics-file PATH'
                        has the server keep it in a file for node_exporter's
                        textfile collector
)";
  }
  if (topic == "features") {
    return R"(usage: ublk features [--json]

Prints the ublk features (UBLK_F_*) the running kernel supports, by name.

options:
      --json        print JSON: {"flags": N, "features": [...]}
)";
  }
  return "";
}

}  // namespace ublk
