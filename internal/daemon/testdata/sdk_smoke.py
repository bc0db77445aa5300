"""Common calls of the Docker SDK for Python (Debian's python3-docker)
against gantry. Usage: sdk_smoke.py DOCKER_HOST REGISTRY_HOST:PORT
Exits non-zero, with what differed, at the first call that does not do
what it does against Docker."""
import io
import sys
import time

import docker


def check(what, got, want):
    if got != want:
        sys.exit(f"{what}: got {got!r}, want {want!r}")
    print(f"{what}: ok")


c = docker.DockerClient(base_url=sys.argv[1])
registry = sys.argv[2]
start = int(time.time()) - 1

check("ping", c.ping(), True)
check("run", c.containers.run("busybox", ["echo", "hello sdk"], remove=True), b"hello sdk\n")

ct = c.containers.run("busybox", ["sh", "-c", "echo started; sleep 30"], detach=True, name="sdkc")
for _ in range(50):
    if ct.logs() == b"started\n":
        break
    time.sleep(0.1)
check("logs", ct.logs(), b"started\n")
# Several: the SDK reads the answer's headers through a buffer and the
# output from the socket, so output that came with the headers was lost
# (now and then) while gantry started the process before answering.
for i in range(8):
    r = ct.exec_run(["sh", "-c", f"echo exec {i}; exit 3"])
    check(f"exec_run {i}", (r.exit_code, r.output), (3, f"exec {i}\n".encode()))
ct.reload()
check("status", ct.status, "running")
stats = ct.stats(stream=False)
check("stats", stats["pids_stats"]["current"] >= 1 and stats["memory_stats"]["usage"] > 0, True)
check("list", [x.name for x in c.containers.list(filters={"name": "sdkc"})], ["sdkc"])
ct.stop(timeout=1)
ct.reload()
check("stop", ct.status, "exited")
ct.remove()

dockerfile = b'FROM busybox\nARG WHO=sdk\nRUN echo "built by $WHO" > /built\nCMD ["cat", "/built"]\n'
img, _ = c.images.build(fileobj=io.BytesIO(dockerfile), tag="sdkimg:1", buildargs={"WHO": "python"}, rm=True)
check("images.build", img.tags, ["sdkimg:1"])
check("run the built image", c.containers.run("sdkimg:1", remove=True), b"built by python\n")

ref = f"{registry}/sdk/img"
img.tag(ref, "1")
for line in c.images.push(ref, tag="1", stream=True, decode=True):
    if "error" in line:
        sys.exit(f"push: {line['error']}")
c.images.remove(f"{ref}:1")
c.images.remove("sdkimg:1")
pulled = c.images.pull(ref, tag="1")
check("images.pull after push", pulled.id, img.id)
c.images.remove(f"{ref}:1")

vol = c.volumes.create("sdkvol", labels={"from": "sdk"})
net = c.networks.create("sdknet")
c.containers.run("busybox", ["sh", "-c", "echo kept > /v/file"], remove=True, network="sdknet",
                 volumes={"sdkvol": {"bind": "/v", "mode": "rw"}})
out = c.containers.run("busybox", ["cat", "/v/file"], remove=True, volumes={"sdkvol": {"bind": "/v", "mode": "ro"}})
check("volume kept its data", out, b"kept\n")
check("volumes.list", [v.name for v in c.volumes.list(filters={"label": "from=sdk"})], ["sdkvol"])
vol.remove()
check("networks.list", [n.name for n in c.networks.list(names=["sdknet"])], ["sdknet"])
net.remove()

actions = {(e.get("Type"), e.get("Action")) for e in c.events(decode=True, since=start, until=int(time.time()) + 1)}
for want in [("container", "create"), ("container", "start"), ("container", "die"), ("volume", "create"), ("network", "create")]:
    check(f"event {want}", want in actions, True)
print("all ok")
