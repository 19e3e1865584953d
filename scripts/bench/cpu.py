#!/usr/bin/env python3
"""Snapshot of where the machine's CPU time has gone, for bench.sh to take before and after a
run: the whole machine's busy and idle time (/proc/stat) and the server's CPU time per thread
name (/proc/PID/task/*/stat). The report subtracts two snapshots. Thread names say the part:
"inference" is the engine's forward pass (libtorch's OpenMP threads inherit the name),
"tokio-rt-worker" is HTTP, decoding and hashing, "sqlx-sqlite-wor" the database; a thread that
ends during the run takes its time with it (the report counts it as "threads that ended").
Usage: cpu.py PID OUT.json"""
import glob
import json
import os
import sys

pid, out = sys.argv[1], sys.argv[2]
ticks = os.sysconf("SC_CLK_TCK")


def machine():
    fields = [int(v) for v in open("/proc/stat").readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    steal = fields[7]  # time a virtual machine's host gave the CPU to someone else
    return {"busy_s": (sum(fields[:7]) - idle) / ticks, "idle_s": idle / ticks, "steal_s": steal / ticks}


def threads():
    by_name = {}
    for stat in glob.glob(f"/proc/{pid}/task/*/stat"):
        try:
            text = open(stat).read()
        except OSError:  # the thread ended meanwhile
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        rest = text[text.rindex(")") + 2:].split()
        cpu = (int(rest[11]) + int(rest[12])) / ticks  # utime + stime
        by_name[name] = by_name.get(name, 0.0) + cpu
    return by_name


def process():
    text = open(f"/proc/{pid}/stat").read()
    rest = text[text.rindex(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / ticks  # includes threads that have ended


json.dump({"machine": machine(), "process_s": process(), "threads": threads(), "cores": os.cpu_count()}, open(out, "w"))
