# Attack class: leaving files and processes behind. Writes a file named LEFTOVER (unique to the run)
# into every writable place it can find (/tmp, /var/tmp, /dev/shm, /run, /run/lock, /var/lock,
# /dev/mqueue as a POSIX message queue, and any world-writable directory under / it finds),
# binds an abstract Unix socket, creates System V shared memory, and starts a daemon (double
# fork, new session) that sleeps for an hour. After grading, the host must hold none of it.
# (`add` is right: the question here is only what outlives the sandbox.)
import ctypes
import os
import socket
import time

NAME = "{LEFTOVER}"
places = ["/tmp", "/var/tmp", "/dev/shm", "/run", "/run/lock", "/var/lock", os.getcwd()]
for top in ("/var", "/opt", "/srv", "/etc", "/usr/local", "/home", "/root", "/mnt", "/media"):
    for folder, dirs, _ in os.walk(top):
        if folder.count("/") > 4:
            dirs[:] = []
        if os.access(folder, os.W_OK):
            places.append(folder)
written = []
for folder in places:
    try:
        with open(os.path.join(folder, NAME), "w") as f:
            f.write("left behind")
        written.append(folder)
    except OSError:
        pass
print("written to", written)
try:
    rt = ctypes.CDLL("librt.so.1", use_errno=True)
    rt.mq_open.restype = ctypes.c_int
    print("mq_open", rt.mq_open(f"/{NAME}".encode(), os.O_CREAT | os.O_RDWR, 0o600, None))
except OSError as exc:
    print("mqueue:", exc)
libc = ctypes.CDLL(None, use_errno=True)
print("shmget", libc.shmget(0x5E12, 4096, 0o1666))  # IPC_CREAT | 0666
held = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
held.bind("\0" + NAME)
held.listen(1)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.chdir("/")
        time.sleep(3600)
    os._exit(0)
time.sleep(0.2)


def add(a, b):
    return a + b
