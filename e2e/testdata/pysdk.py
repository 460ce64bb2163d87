# Drives a liveswapd through the Python SDK (Debian's python3-docker), as a
# user's script would, and prints what it saw as one JSON object.
import faulthandler
import json
import socket as pysocket
import sys

import docker
from docker.utils.socket import frames_iter

# A step that hangs prints where, before the test gives up on it.
faulthandler.dump_traceback_later(50, exit=True)
c = docker.DockerClient(base_url=sys.argv[1], version="auto", timeout=60)
image = sys.argv[2]
out = {"images": sorted(t for i in c.images.list() for t in i.tags)}

ct = c.containers.run(image, ["/bin/sh", "-c", "echo started; exec /bin/sleep 600"],
                      detach=True, mem_limit="48m", name="py-detached")
ct.reload()
out["status"] = ct.status
r = ct.exec_run(["/bin/sh", "-c", "echo exec-out; echo exec-err >&2; exit 4"])
out["exec"] = [r.exit_code, r.output.decode()]
out["logs"] = ct.logs().decode()
# exec with a terminal (the raw stream), and with stdin on the socket:
# the script's end of input ends cat.
r = ct.exec_run(["/bin/sh", "-c", "[ -t 0 ] && [ -t 1 ] && echo on-a-tty; exit 5"], tty=True)
out["exec_tty"] = [r.exit_code, r.output.decode()]
r = ct.exec_run(["/bin/cat"], stdin=True, socket=True)
r.output._sock.sendall(b"py-stdin\n")
r.output._sock.shutdown(pysocket.SHUT_WR)
out["exec_stdin"] = b"".join(d for stream, d in frames_iter(r.output, tty=False) if stream == 1).decode()
s = ct.stats(stream=False)
out["stats"] = {
    "limit": s["memory_stats"]["limit"],
    "usage": s["memory_stats"].get("usage", 0),
    "pids": s["pids_stats"].get("current", 0),
    "cpu": s["cpu_stats"]["cpu_usage"]["total_usage"],
    "precpu_read": s["preread"],
}

# Foreground: run returns the container's output; a failing one raises
# ContainerError with its exit status and stderr.
out["foreground"] = c.containers.run(image, ["/bin/sh", "-c", "echo fg-out"], remove=True).decode()
try:
    c.containers.run(image, ["/bin/sh", "-c", "echo fg-err >&2; exit 3"], name="py-failing")
    out["failing"] = None
except docker.errors.ContainerError as e:
    out["failing"] = [e.exit_status, (e.stderr or b"").decode()]
ct.remove(force=True)
c.containers.get("py-failing").remove()
out["left"] = [x.name for x in c.containers.list(all=True)]
print(json.dumps(out))
