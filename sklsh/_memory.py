"""How much memory this process may still allocate.

The machine's total RAM says little about that: a container's cgroup, an address-space
limit (``ulimit -v``) or other processes may leave far less. :func:`available_memory`
takes the smallest of what each of these leaves, reading only what this platform has:
the cgroup and ``/proc`` exist on Linux alone; elsewhere the machine's physical memory
is the only bound known.
"""
import mmap
import os

try:
    import resource
except ImportError:         # (Windows: no resource limits to read)
    resource = None

CGROUP = "cgroup limit"
ADDRESS_SPACE = "address-space limit, ulimit -v"
FREE = "free memory"
PHYSICAL = "physical memory"

# A limit at or above this is none: cgroup v1 writes "no limit" as the largest page
# count (9223372036854771712 bytes on 4 KiB pages), and no machine has an exbibyte
UNLIMITED = 2**60


def available_memory(proc="/proc", cgroup_root="/sys/fs/cgroup", address_limit=None):
    """Bytes this process can still allocate, and what limits them.

    The smallest of:

    - the headroom its cgroup leaves (limit minus usage, cgroup v1 or v2, over the
      process's cgroup and every one above it);
    - the headroom its address-space limit leaves (``RLIMIT_AS`` minus the process's
      virtual size);
    - the machine's free memory (``MemAvailable``), or its physical memory where
      ``/proc`` is absent (macOS).

    Parameters
    ----------
    proc : str
        Where procfs is mounted.
    cgroup_root : str
        Where the cgroup hierarchies are mounted.
    address_limit : int, optional
        The address-space limit in bytes (negative: none); by default this process's
        soft ``RLIMIT_AS``.

    Returns
    -------
    available : int or None
        Bytes; None when nothing could be read (Windows).
    what : str or None
        What sets that bound: ``CGROUP``, ``ADDRESS_SPACE``, ``FREE`` or ``PHYSICAL``.
    """
    bounds = []
    cgroup = cgroup_headroom(proc, cgroup_root)
    if cgroup is not None:
        bounds.append((cgroup, CGROUP))
    address = address_space_headroom(proc, address_limit)
    if address is not None:
        bounds.append((address, ADDRESS_SPACE))
    free = free_memory(proc)
    if free is not None:
        bounds.append((free, FREE))
    else:
        physical = physical_memory()
        if physical is not None:
            bounds.append((physical, PHYSICAL))
    if not bounds:
        return None, None
    return min(bounds, key=lambda bound: bound[0])


def cgroup_headroom(proc="/proc", cgroup_root="/sys/fs/cgroup"):
    """Bytes the memory cgroups of this process leave it, or None without a limit.

    The process's cgroup comes from ``proc/self/cgroup``: a v1 line naming the memory
    controller (``4:memory:/path``) reads ``memory.limit_in_bytes`` and
    ``memory.usage_in_bytes`` under ``cgroup_root/memory``; otherwise the v2 line
    (``0::/path``) reads ``memory.max`` and ``memory.current`` under ``cgroup_root``.
    A parent's limit binds its children too, so every cgroup from the process's up
    to the root is read and the smallest headroom kept.
    """
    text = _read(os.path.join(proc, "self", "cgroup"))
    if text is None:
        return None
    v1 = v2 = None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        controllers, path = parts[1], parts[2].strip()
        if controllers == "":
            v2 = path
        elif "memory" in controllers.split(","):
            v1 = path
    # (a hybrid setup lists both; the memory controller is then v1's)
    if v1 is not None:
        return _hierarchy_headroom(os.path.join(cgroup_root, "memory"), v1,
                                   "memory.limit_in_bytes", "memory.usage_in_bytes",
                                   ("total_inactive_file", "inactive_file"))
    if v2 is not None:
        return _hierarchy_headroom(cgroup_root, v2, "memory.max", "memory.current",
                                   ("inactive_file",))
    return None


def _hierarchy_headroom(mount, path, limit_file, usage_file, reclaimable_keys):
    mount = os.path.normpath(mount)
    here = os.path.normpath(os.path.join(mount, path.lstrip("/")))
    # Inside a container without a cgroup namespace, /proc/self/cgroup gives the
    # host's path, while the container's own cgroup is mounted at the root: read that
    if os.path.commonpath([mount, here]) != mount or not os.path.isdir(here):
        here = mount
    best = None
    while True:
        headroom = _cgroup_level(here, limit_file, usage_file, reclaimable_keys)
        if headroom is not None and (best is None or headroom < best):
            best = headroom
        if here == mount:
            return best
        here = os.path.dirname(here)


def _cgroup_level(directory, limit_file, usage_file, reclaimable_keys):
    """Headroom of one cgroup: its limit minus its usage, or None without a limit.

    Usage counts the page cache of the files the group read; the kernel drops its
    inactive part before it kills anything, so that part counts as free (the
    "working set" of container runtimes)."""
    limit = _read_int(os.path.join(directory, limit_file))
    if limit is None or limit >= UNLIMITED:        # ("max", unreadable or no limit)
        return None
    usage = _read_int(os.path.join(directory, usage_file))
    if usage is None:
        return limit                               # (no usage known: the limit bounds)
    stat = _read_keyed(os.path.join(directory, "memory.stat"))
    reclaimable = next((stat[k] for k in reclaimable_keys if k in stat), 0)
    return max(0, limit - max(0, usage - reclaimable))


def address_space_headroom(proc="/proc", limit=None):
    """Bytes the address-space limit (``ulimit -v``) leaves this process, or None
    without a limit. Every mapping counts against it, touched or not, so a model
    larger than the headroom fails at its first allocation whatever the free RAM."""
    if limit is None:
        if resource is None:
            return None                            # (Windows: no such limit)
        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    infinity = resource.RLIM_INFINITY if resource is not None else -1
    if limit == infinity or limit < 0 or limit >= UNLIMITED:
        return None
    statm = _read(os.path.join(proc, "self", "statm"))
    fields = statm.split() if statm is not None else []
    if not fields or not fields[0].isdigit():
        return limit                               # (no /proc: the limit itself bounds)
    return max(0, limit - int(fields[0]) * mmap.PAGESIZE)


def free_memory(proc="/proc"):
    """The machine's free memory in bytes (``MemAvailable``: free pages plus what the
    kernel can reclaim without swapping), or None without ``proc/meminfo``."""
    info = _read_keyed(os.path.join(proc, "meminfo"))
    if "MemAvailable" in info:
        return info["MemAvailable"] * 1024
    if "MemFree" in info:
        # kernels before 3.14 lack MemAvailable: free pages and the page cache
        return (info["MemFree"] + info.get("Buffers", 0) + info.get("Cached", 0)) * 1024
    return None


def physical_memory():
    """The machine's physical memory in bytes, or None where the platform does not
    say (Windows has no ``os.sysconf``)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _read(path):
    """A small file's text, or None where it is absent or unreadable."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _read_int(path):
    text = _read(path)
    text = text.strip() if text is not None else ""
    return int(text) if text.isdigit() else None


def _read_keyed(path):
    """``key value`` or ``key: value [kB]`` lines as a dict of ints (empty where the
    file is absent); lines of another form are left out."""
    values = {}
    for line in (_read(path) or "").splitlines():
        parts = line.replace(":", " ").split()
        if len(parts) >= 2 and parts[1].isdigit():
            values[parts[0]] = int(parts[1])
    return values
