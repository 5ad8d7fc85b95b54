#!/usr/bin/env python3
"""store-tool.py - set up store states for tests/exim/test-store-safety.sh,
through liblmdb (ctypes) as another process would leave them.

  hold DIR READY           keep the environment open (LMDB resets the reader
                           table when the first process opens it), touch READY
  stale-reader DIR         die (SIGKILL) holding a reader slot
  age DIR DOMAIN SECONDS   move DOMAIN's last_used SECONDS into the past
  fill DIR DOMAIN LEAVE    copy DOMAIN's record to new keys until the map is
                           full, then delete the last LEAVE copies again
  grow DIR BYTES           use BYTES more of the map (grows it), then free them
  lease DIR DOMAIN         print DOMAIN's single-flight lease ("PID EXPIRY"),
                           or nothing (read-only; the store must exist)
"""
import ctypes, os, signal, struct, sys

lib = ctypes.CDLL("liblmdb.so.0")
MDB_NOTLS, MDB_RDONLY, MDB_NOTFOUND, MDB_MAP_FULL = 0x200000, 0x20000, -30798, -30792
LAST_USED = 14 + 8 * 4          # record.c: fixed fields, times[4]


class Val(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("data", ctypes.c_void_p)]


class EnvInfo(ctypes.Structure):
    _fields_ = [("mapaddr", ctypes.c_void_p), ("mapsize", ctypes.c_size_t),
                ("last_pgno", ctypes.c_size_t), ("last_txnid", ctypes.c_size_t),
                ("maxreaders", ctypes.c_uint), ("numreaders", ctypes.c_uint)]


lib.mdb_env_set_mapsize.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
lib.mdb_strerror.restype = ctypes.c_char_p


def ok(rc, what):
    if rc != 0:
        sys.exit("%s: %s" % (what, lib.mdb_strerror(rc).decode()))


def env_open(path, flags=0):
    env = ctypes.c_void_p()
    ok(lib.mdb_env_create(ctypes.byref(env)), "create")
    ok(lib.mdb_env_set_maxreaders(env, 1022), "maxreaders")
    ok(lib.mdb_env_open(env, path.encode(), MDB_NOTLS | flags, 0o660), "open " + path)
    return env


def txn_begin(env, flags=0):
    txn, dbi = ctypes.c_void_p(), ctypes.c_uint()
    ok(lib.mdb_txn_begin(env, None, flags, ctypes.byref(txn)), "txn")
    ok(lib.mdb_dbi_open(txn, None, 0, ctypes.byref(dbi)), "dbi")
    return txn, dbi


def val(b):
    buf = ctypes.create_string_buffer(b, len(b))
    return Val(len(b), ctypes.cast(buf, ctypes.c_void_p)), buf


def get(txn, dbi, key):
    k, kb = val(key)
    v = Val()
    ok(lib.mdb_get(txn, dbi, ctypes.byref(k), ctypes.byref(v)), "get %r" % key)
    return ctypes.string_at(v.data, v.size)


def put(txn, dbi, key, data):
    k, kb = val(key)
    v, vb = val(data)
    return lib.mdb_put(txn, dbi, ctypes.byref(k), ctypes.byref(v), 0)


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "lease":
        for f in ("data.mdb", "lock.mdb"):     # never create them (as root)
            if not os.path.exists(os.path.join(path, f)):
                return
        env = env_open(path, MDB_RDONLY)
        txn, dbi = txn_begin(env, MDB_RDONLY)
        k, kb = val(b"\x01lease:" + sys.argv[3].encode())
        v = Val()
        if lib.mdb_get(txn, dbi, ctypes.byref(k), ctypes.byref(v)) == 0:
            print(ctypes.string_at(v.data, v.size).decode())
        lib.mdb_txn_abort(txn)
        return
    env = env_open(path)
    if cmd == "hold":
        open(sys.argv[3], "w").close()
        signal.pause()
    elif cmd == "stale-reader":
        txn_begin(env, MDB_RDONLY)
        os.kill(os.getpid(), signal.SIGKILL)
    elif cmd == "age":
        txn, dbi = txn_begin(env)
        rec = bytearray(get(txn, dbi, sys.argv[3].encode()))
        used = struct.unpack_from("<q", rec, LAST_USED)[0] - int(sys.argv[4])
        struct.pack_into("<q", rec, LAST_USED, used)
        ok(put(txn, dbi, sys.argv[3].encode(), bytes(rec)), "put")
        ok(lib.mdb_txn_commit(txn), "commit")
    elif cmd == "fill":
        txn, dbi = txn_begin(env, MDB_RDONLY)
        rec = get(txn, dbi, sys.argv[3].encode())
        lib.mdb_txn_abort(txn)
        n, batch = 0, 500
        while batch:            # batches of 500, then single records
            txn, dbi = txn_begin(env)
            rc = 0
            for i in range(batch):
                rc = put(txn, dbi, b"fill%07d.example" % (n + i), rec)
                if rc:
                    break
            if rc:
                lib.mdb_txn_abort(txn)
            else:
                rc = lib.mdb_txn_commit(txn)
            if rc:
                batch = 1 if batch > 1 else 0
                continue
            n += batch
        if rc != MDB_MAP_FULL:
            ok(rc, "fill")
        txn, dbi = txn_begin(env)
        for i in range(n - int(sys.argv[4]), n):
            k, kb = val(b"fill%07d.example" % i)
            ok(lib.mdb_del(txn, dbi, ctypes.byref(k), None), "del")
        ok(lib.mdb_txn_commit(txn), "commit")
        print(n)
    elif cmd == "grow":
        info = EnvInfo()
        ok(lib.mdb_env_info(env, ctypes.byref(info)), "info")
        ok(lib.mdb_env_set_mapsize(env, info.mapsize + 2 * int(sys.argv[3])), "mapsize")
        txn, dbi = txn_begin(env)
        ok(put(txn, dbi, b"\x01pad", b"\0" * int(sys.argv[3])), "put pad")
        ok(lib.mdb_txn_commit(txn), "commit")
        txn, dbi = txn_begin(env)
        k, kb = val(b"\x01pad")
        ok(lib.mdb_del(txn, dbi, ctypes.byref(k), None), "del pad")
        ok(lib.mdb_txn_commit(txn), "commit")
    lib.mdb_env_close(env)


main()
