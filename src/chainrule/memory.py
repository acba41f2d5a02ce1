"""How much memory an allocation may take: checked before a network or its training buffers are
made, so that a size typed by mistake is one clear error instead of a MemoryError or a swapping
machine."""

import os

__all__ = ["available", "require", "size"]


def available():
    """Bytes that a new allocation can get: Linux's MemAvailable (free memory and the page cache it
    can give back), else the free pages POSIX reports; None where neither is known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def size(n):
    """1234567890 → '1.1 GiB'."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024


SMALL = 64 << 20  # an allocation below this is not checked: it cannot be what exhausts a machine


def require(need, what, fix):
    """ValueError when ``need`` bytes exceed what this machine has available: "{what} needs about …,
    and this machine has … available; {fix}". (Reading what is available costs a file read: small
    allocations skip it.)"""
    if need < SMALL:
        return
    have = available()
    if have is not None and need > have:
        raise ValueError(f"{what} needs about {size(need)}, and this machine has {size(have)} available; {fix}")
