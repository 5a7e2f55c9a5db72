#!/usr/bin/env python3
"""`tp bridge`: --check, configuration errors with file:line, and a real run.

The real run: `tp bridge` as a receiver process (host B) and as a sender
process (host A), each with its own transport and SHM directories, joined by
embedded UDP on 127.0.0.1; tp_example_producer writes stream 10000 on host A
and tp_example_consumer reads stream 20000 on host B, checking every
payload's seq pattern. The bridges stop on SIGINT and print their counters.

usage: test_tp_bridge_cli.py TP PRODUCER CONSUMER EXAMPLE_CONFIG
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import shutil

TP, PRODUCER, CONSUMER, EXAMPLE = sys.argv[1:5]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(*args, timeout=30):
    return subprocess.run([TP, "bridge", *args], capture_output=True, text=True, timeout=timeout)


# --check on the example configuration
r = run("--check", EXAMPLE)
check(r.returncode == 0, f"--check example: rc {r.returncode} {r.stderr}")
check("51000 (allocated)" in r.stdout, f"--check lists the allocated destination: {r.stdout}")

root = tempfile.mkdtemp(prefix=f"tp-test-brcli-{os.getpid()}-", dir="/dev/shm")
procs = []
try:
    bad = os.path.join(root, "bad.toml")
    with open(bad, "w") as f:
        f.write('[bridge]\ninstance_id = "x"\npayload_chanel = "aeron:udp?endpoint=127.0.0.1:1"\n')
    r = run("--check", bad)
    check(r.returncode == 1, f"bad config: rc {r.returncode}")
    check("bad.toml:3" in r.stderr and "payload_chanel" in r.stderr, f"bad config message: {r.stderr}")
    env = dict(os.environ)
    env.pop("TP_BRIDGE_CONFIG", None)
    r = subprocess.run([TP, "bridge"], capture_output=True, text=True, env=env, timeout=30)
    check(r.returncode == 2, f"no config: rc {r.returncode}")

    hosts = {}
    for h in ("a", "b"):
        d = {"shm": os.path.join(root, h, "shm"), "transport": os.path.join(root, h, "transport")}
        for p in d.values():
            os.makedirs(p)
        hosts[h] = d
    ports = [free_port() for _ in range(3)]
    configs = {}
    for role, h in (("sender", "a"), ("receiver", "b")):
        path = os.path.join(root, f"{role}.toml")
        with open(path, "w") as f:
            f.write(f"""[bridge]
instance_id = "cli-{role}"
role = "{role}"
payload_channel = "aeron:udp?endpoint=127.0.0.1:{ports[0]}"
payload_stream_id = 50000
control_channel = "aeron:udp?endpoint=127.0.0.1:{ports[1]}"
control_stream_id = 50001
metadata_channel = "aeron:udp?endpoint=127.0.0.1:{ports[2]}"
metadata_stream_id = 50002
forward_metadata = true
announce_forward_ms = 100

[local]
transport = "embedded"
transport_dir = "{hosts[h]['transport']}"
shm_base_dir = "{hosts[h]['shm']}"
announce_period_ms = 100

[[mappings]]
source_stream_id = 10000
dest_stream_id = 20000
""")
        configs[role] = path
    env = dict(os.environ, TP_TRANSPORT_BACKEND="embedded")
    recv = subprocess.Popen([TP, "bridge", configs["receiver"], "--duration", "40", "--idle", "yield"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    procs.append(recv)
    send = subprocess.Popen([TP, "bridge", configs["sender"], "--duration", "40", "--idle", "yield"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    procs.append(send)
    cons = subprocess.Popen([CONSUMER, "--transport-dir", hosts["b"]["transport"], "--shm-dir", hosts["b"]["shm"],
                             "--stream", "20000", "--until-seq", "1499", "--duration", "25", "--check", "full"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    procs.append(cons)
    time.sleep(0.5)
    prod = subprocess.Popen([PRODUCER, "--transport-dir", hosts["a"]["transport"], "--shm-dir", hosts["a"]["shm"],
                             "--stream", "10000", "--frames", "1500", "--rate", "500", "--size", "3000",
                             "--announce-ms", "100", "--linger-ms", "500"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    procs.append(prod)
    p_out, p_err = prod.communicate(timeout=60)
    c_out, c_err = cons.communicate(timeout=60)
    for p in (send, recv):
        p.send_signal(signal.SIGINT)
    s_out, s_err = send.communicate(timeout=30)
    r_out, r_err = recv.communicate(timeout=30)
    print("producer:", p_out.strip(), file=sys.stderr)
    print("consumer:", c_out.strip(), file=sys.stderr)
    print("sender:", s_out.strip().splitlines()[-1] if s_out.strip() else s_err, file=sys.stderr)
    print("receiver:", r_out.strip().splitlines()[-1] if r_out.strip() else r_err, file=sys.stderr)
    check(prod.returncode == 0, f"producer rc {prod.returncode}: {p_err}")
    check(send.returncode == 0 and recv.returncode == 0, f"bridge rc {send.returncode}/{recv.returncode}")
    c = json.loads(c_out.strip().splitlines()[-1])
    check(c["frames"] > 0 and c["torn"] == 0 and c["intact"] == c["frames"], f"consumer: {c}")
    s = json.loads(s_out.strip().splitlines()[-1])
    rv = json.loads(r_out.strip().splitlines()[-1])
    check(s["bridge"] == "stopped" and s["stats"]["sender"]["frames_sent"] > 0, f"sender stats: {s}")
    check(rv["stats"]["receiver"]["frames_published"] >= c["frames"], f"receiver stats: {rv}")
    check(s["stats"]["sender"]["announces_forwarded"] > 0, "announces forwarded")
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    shutil.rmtree(root, ignore_errors=True)

if failures:
    sys.exit(1)
print("test_tp_bridge_cli: ok", file=sys.stderr)
