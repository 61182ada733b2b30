#!/usr/bin/env python3
"""End-to-end S3 smoke test: stock aws-cli, boto3 and curl against a running tarn.

Run by crates/server/tests/cli_smoke.rs, which installs the pinned clients into a
venv, starts tarn on a free port and sets:

  AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION
  PATH (the venv's bin first, so `aws` is the pinned aws-cli)

It can also be run by hand against any tarn with those variables set. Every
check records a pass or a failure and the script carries on; the last line is
`smoke: N passed, M failed` and the exit code is 1 if anything failed.
"""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
import uuid

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["AWS_ENDPOINT_URL"]
ACCESS_KEY = os.environ["AWS_ACCESS_KEY_ID"]
SECRET_KEY = os.environ["AWS_SECRET_ACCESS_KEY"]
REGION = os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

MiB = 1024 * 1024
# aws-cli's default multipart threshold and part size are both 8 MiB.
BIG_SIZE = 100 * MiB
CLI_PART_SIZE = 8 * MiB

RUN = uuid.uuid4().hex[:8]
BUCKET = f"smoke-{RUN}"
VBUCKET = f"smoke-ver-{RUN}"
MISSING_BUCKET = f"smoke-missing-{RUN}"

passed = 0
failures = []


# --------------------------------------------------------------------------
# helpers


def check(cond, msg):
    """Record one assertion; never raises."""
    global passed
    if cond:
        passed += 1
        print(f"  ok   {msg}", flush=True)
    else:
        failures.append(msg)
        print(f"  FAIL {msg}", flush=True)
    return bool(cond)


def check_eq(actual, expected, what):
    if actual == expected:
        return check(True, what)
    return check(False, f"{what}: expected {expected!r}, got {actual!r}")


def section(fn):
    """Run one group of checks; an exception fails the group, not the script."""
    name = fn.__name__
    print(f"== {name}", flush=True)
    start = time.monotonic()
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - we report everything
        check(False, f"{name} raised {type(e).__name__}: {e}\n{traceback.format_exc()}")
    print(f"   ({time.monotonic() - start:.1f}s)", flush=True)


def child_env():
    env = dict(os.environ)
    env["PYTHONUTF8"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    env["AWS_PAGER"] = ""
    return env


def run(cmd, input=None, timeout=300):
    return subprocess.run(cmd, input=input, capture_output=True, env=child_env(), timeout=timeout)


def aws(*args, input=None):
    """Run the venv's aws-cli; returns the CompletedProcess (stdout/stderr as bytes)."""
    return run(["aws", *args], input=input)


def show(cmd, p):
    return (
        f"`{' '.join(cmd)}` exited {p.returncode}\n"
        f"    stdout: {p.stdout.decode('utf-8', 'replace')[-2000:]}\n"
        f"    stderr: {p.stderr.decode('utf-8', 'replace')[-2000:]}"
    )


def aws_ok(*args, input=None, what=None):
    """Run aws-cli, check it exited 0, return stdout as text (None on failure)."""
    p = aws(*args, input=input)
    desc = what or "aws " + " ".join(args)
    if not check(p.returncode == 0, desc if p.returncode == 0 else show(["aws", *args], p)):
        return None
    return p.stdout.decode("utf-8")


def aws_json(*args, what=None):
    out = aws_ok(*args, "--output", "json", what=what)
    if out is None:
        return None
    return json.loads(out) if out.strip() else {}


def aws_fails(expected_code, *args, what=None):
    """Run aws-cli expecting failure with `expected_code` in its error message."""
    p = aws(*args)
    desc = what or f"aws {' '.join(args)} fails with {expected_code}"
    ok = p.returncode != 0 and f"({expected_code})" in p.stderr.decode("utf-8", "replace")
    return check(ok, desc if ok else f"{desc}, but: {show(['aws', *args], p)}")


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


def etag(s):
    return s.strip('"') if s else s


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def tree_files(root):
    """Map of relative path (with '/') -> bytes for every file under root."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            out[os.path.relpath(full, root).replace(os.sep, "/")] = read(full)
    return out


def list_keys(client, bucket, prefix=""):
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return keys


def client_error(fn, **kw):
    """Call fn(**kw) expecting a ClientError; returns (code, http_status) or (None, None)."""
    try:
        fn(**kw)
    except ClientError as e:
        return e.response.get("Error", {}).get("Code"), e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return None, None


def parse_ls(out):
    """Parse `aws s3 ls` output into (prefixes, {key: size})."""
    prefixes, objects = [], {}
    for line in out.splitlines():
        s = line.strip()
        if not s:
            continue
        if s.startswith("PRE "):
            prefixes.append(s[4:])
        else:
            parts = s.split(None, 3)
            objects[parts[3]] = int(parts[2])
    return prefixes, objects


def curl(*args):
    return run(["curl", "--globoff", *args], timeout=120)


def curl_status(url, method="GET"):
    """Return (http status, body) without -f so error bodies are visible."""
    p = curl("-s", "-X", method, "-o", "-", "-w", "\n%{http_code}", url)
    body, _, code = p.stdout.rpartition(b"\n")
    return int(code or b"0"), body.decode("utf-8", "replace")


# --------------------------------------------------------------------------
# the checks

s3 = boto3.client("s3", endpoint_url=ENDPOINT, region_name=REGION)
s3v4 = boto3.client("s3", endpoint_url=ENDPOINT, region_name=REGION, config=Config(signature_version="s3v4"))
WORK = tempfile.mkdtemp(prefix="tarn-smoke-")


def environment():
    aws_path = shutil.which("aws")
    venv_bin = os.path.dirname(sys.executable)
    check(
        aws_path is not None and os.path.dirname(os.path.realpath(aws_path)) in (venv_bin, os.path.realpath(venv_bin)),
        f"`aws` on PATH ({aws_path}) is the one next to this python ({venv_bin})",
    )
    out = aws_ok("--version")
    if out is not None:
        print(f"   {out.strip()}; boto3 {boto3.__version__}")


def sts():
    """aws sts get-caller-identity, which tools call first to learn the account."""
    ident = aws_json("sts", "get-caller-identity", what="aws sts get-caller-identity")
    check_eq(ident.get("Account"), "000000000000", "sts Account (aws-cli)")
    check_eq(ident.get("Arn"), "arn:aws:iam::000000000000:root", "sts Arn (aws-cli)")
    ident = boto3.client("sts", endpoint_url=ENDPOINT, region_name="us-east-1").get_caller_identity()
    check_eq(ident.get("Account"), "000000000000", "sts Account (boto3)")
    check_eq(ident.get("Arn"), "arn:aws:iam::000000000000:root", "sts Arn (boto3)")


def kinesis():
    """aws kinesis create-stream / put-record / get-shard-iterator / get-records."""
    stream = f"smoke-{RUN}"
    aws_ok("kinesis", "create-stream", "--stream-name", stream, "--shard-count", "2", what="aws kinesis create-stream")
    for _ in range(100):
        desc = aws_json("kinesis", "describe-stream-summary", "--stream-name", stream, what="describe-stream-summary")
        if desc and desc["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
            break
        time.sleep(0.1)
    check_eq(desc["StreamDescriptionSummary"]["OpenShardCount"], 2, "kinesis open shards")
    sent = []
    for i in range(5):
        # aws-cli v1 sends --data as the raw bytes given (v2 would expect base64 by default)
        out = aws_json("kinesis", "put-record", "--stream-name", stream, "--partition-key", "user-1",
                       "--data", f"event-{i}", what=f"aws kinesis put-record {i}")
        sent.append(out)
    shard = sent[0]["ShardId"]
    check(all(o["ShardId"] == shard for o in sent), "one partition key lands in one shard")
    seqs = [o["SequenceNumber"] for o in sent]
    check(seqs == sorted(seqs, key=int) and len(set(seqs)) == 5, f"sequence numbers increase ({seqs})")
    it = aws_json("kinesis", "get-shard-iterator", "--stream-name", stream, "--shard-id", shard,
                  "--shard-iterator-type", "TRIM_HORIZON", what="aws kinesis get-shard-iterator")["ShardIterator"]
    records = aws_json("kinesis", "get-records", "--shard-iterator", it, what="aws kinesis get-records")["Records"]
    check_eq([base64.b64decode(r["Data"]).decode() for r in records], [f"event-{i}" for i in range(5)], "get-records returns the events in order")
    check_eq([r["SequenceNumber"] for r in records], seqs, "get-records returns the sequence numbers put-record gave")
    client = boto3.client("kinesis", endpoint_url=ENDPOINT, region_name="us-east-1")
    out = client.put_records(StreamName=stream, Records=[{"Data": b"x" * 10, "PartitionKey": f"k{i}"} for i in range(20)])
    check_eq(out["FailedRecordCount"], 0, "boto3 put_records")
    aws_ok("kinesis", "delete-stream", "--stream-name", stream, what="aws kinesis delete-stream")


def make_bucket():
    out = aws_ok("s3", "mb", f"s3://{BUCKET}")
    if out is not None:
        check_eq(out.strip(), f"make_bucket: {BUCKET}", "mb output")
    r = s3.head_bucket(Bucket=BUCKET)
    check_eq(r["ResponseMetadata"]["HTTPStatusCode"], 200, "head_bucket on the new bucket")
    out = aws_ok("s3", "ls")
    if out is not None:
        names = [line.split()[-1] for line in out.splitlines() if line.strip()]
        check(BUCKET in names, f"`aws s3 ls` lists {BUCKET} (got {names})")


def cp_single():
    data = os.urandom(300 * 1024 + 7)
    src = os.path.join(WORK, "single", "up.bin")
    write(src, data)
    out = aws_ok("s3", "cp", "--no-progress", src, f"s3://{BUCKET}/single/file.bin")
    if out is not None:
        check(out.startswith("upload: ") and out.strip().endswith(f" to s3://{BUCKET}/single/file.bin"),
              f"cp output reports the upload ({out.strip()!r})")
    head = s3.head_object(Bucket=BUCKET, Key="single/file.bin")
    check_eq(head["ContentLength"], len(data), "uploaded size")
    check_eq(etag(head["ETag"]), md5_hex(data), "single-part ETag is the MD5 of the body")
    dst = os.path.join(WORK, "single", "down.bin")
    if aws_ok("s3", "cp", "--no-progress", f"s3://{BUCKET}/single/file.bin", dst) is not None:
        check(read(dst) == data, "cp download returns the uploaded bytes")

    # stdin -> object -> stdout
    stream = b"streamed through stdin\n" * 1000
    aws_ok("s3", "cp", "--no-progress", "-", f"s3://{BUCKET}/single/stream.txt", input=stream)
    p = aws("s3", "cp", f"s3://{BUCKET}/single/stream.txt", "-")
    check(p.returncode == 0 and p.stdout == stream, "cp - (stdin) up and cp to - (stdout) round-trips")

    # server-side copy and move between S3 locations
    aws_ok("s3", "cp", "--no-progress", f"s3://{BUCKET}/single/stream.txt", f"s3://{BUCKET}/single/copied.txt")
    check_eq(s3.get_object(Bucket=BUCKET, Key="single/copied.txt")["Body"].read(), stream, "s3-to-s3 cp body")
    out = aws_ok("s3", "mv", "--no-progress", f"s3://{BUCKET}/single/copied.txt", f"s3://{BUCKET}/single/moved.txt")
    if out is not None:
        check_eq(out.strip(), f"move: s3://{BUCKET}/single/copied.txt to s3://{BUCKET}/single/moved.txt", "mv output")
    check_eq(client_error(s3.head_object, Bucket=BUCKET, Key="single/copied.txt")[1], 404, "mv removed the source")
    check_eq(s3.get_object(Bucket=BUCKET, Key="single/moved.txt")["Body"].read(), stream, "mv destination body")


TREE = {
    "a.txt": b"alpha\n",
    "sub/b.txt": b"bravo\n" * 100,
    "sub/plus+sign=eq.txt": b"plus sign and equals in the key\n",
    "sub/deeper/c.bin": os.urandom(20_000),
    "with space/file name.txt": b"spaces in dir and file\n",
    "ünïcödé/日本語 ファイル.txt": "unicode key 日本語\n".encode(),
}


def cp_recursive():
    src = os.path.join(WORK, "tree")
    for rel, data in TREE.items():
        write(os.path.join(src, rel), data)
    out = aws_ok("s3", "cp", "--no-progress", "--recursive", src, f"s3://{BUCKET}/tree/")
    if out is not None:
        uploads = [line for line in out.splitlines() if line.startswith("upload:")]
        check_eq(len(uploads), len(TREE), "cp --recursive upload lines")
    keys = list_keys(s3, BUCKET, "tree/")
    check_eq(sorted(keys), sorted(f"tree/{k}" for k in TREE), "keys after cp --recursive")
    for rel, data in TREE.items():
        body = s3.get_object(Bucket=BUCKET, Key=f"tree/{rel}")["Body"].read()
        check(body == data, f"boto3 get_object of tree/{rel} matches the local file")
    dst = os.path.join(WORK, "tree-down")
    if aws_ok("s3", "cp", "--no-progress", "--recursive", f"s3://{BUCKET}/tree/", dst) is not None:
        got = tree_files(dst)
        check_eq(sorted(got), sorted(TREE), "files after recursive download")
        check(all(got.get(k) == v for k, v in TREE.items()), "recursive download bytes match")


def ls():
    out = aws_ok("s3", "ls", "--recursive", f"s3://{BUCKET}/tree/")
    if out is not None:
        _, objects = parse_ls(out)
        check_eq(objects, {f"tree/{k}": len(v) for k, v in TREE.items()}, "ls --recursive keys and sizes")
    out = aws_ok("s3", "ls", f"s3://{BUCKET}/tree/")
    if out is not None:
        prefixes, objects = parse_ls(out)
        check_eq(sorted(prefixes), sorted(["sub/", "with space/", "ünïcödé/"]), "ls (delimited) common prefixes")
        check_eq(objects, {"a.txt": len(TREE["a.txt"])}, "ls (delimited) objects")
    out = aws_ok("s3", "ls", f"s3://{BUCKET}/tree/sub/")
    if out is not None:
        prefixes, objects = parse_ls(out)
        check_eq(prefixes, ["deeper/"], "ls tree/sub/ prefixes")
        check_eq(sorted(objects), ["b.txt", "plus+sign=eq.txt"], "ls tree/sub/ objects")
    # A partial-name prefix, as in `aws s3 ls s3://b/tree/su`.
    out = aws_ok("s3", "ls", f"s3://{BUCKET}/tree/su")
    if out is not None:
        prefixes, objects = parse_ls(out)
        check_eq((prefixes, objects), (["sub/"], {}), "ls with a partial prefix")
    out = aws_ok("s3", "ls", "--recursive", f"s3://{BUCKET}/tree/w")
    if out is not None:
        _, objects = parse_ls(out)
        check_eq(sorted(objects), ["tree/with space/file name.txt"], "ls --recursive with a partial prefix")


def sync():
    src = os.path.join(WORK, "syncsrc")
    files = {"one.txt": b"one\n", "two.txt": b"two\n", "nested/three.txt": b"three\n" * 50}
    old = time.time() - 120
    for rel, data in files.items():
        p = os.path.join(src, rel)
        write(p, data)
        os.utime(p, (old, old))
    dest = f"s3://{BUCKET}/sync/"

    out = aws_ok("s3", "sync", "--no-progress", src, dest, what="sync (first)")
    if out is not None:
        ups = sorted(line.split(" to ")[-1] for line in out.splitlines() if line.startswith("upload:"))
        check_eq(ups, sorted(dest + k for k in files), "first sync uploads every file")
    before = {k: s3.head_object(Bucket=BUCKET, Key=f"sync/{k}") for k in files}

    out = aws_ok("s3", "sync", "--no-progress", src, dest, what="sync (unchanged)")
    if out is not None:
        check_eq([line for line in out.splitlines() if line.strip()], [], "second sync with no changes does nothing")

    files["two.txt"] = b"two, but longer now\n"
    write(os.path.join(src, "two.txt"), files["two.txt"])
    out = aws_ok("s3", "sync", "--no-progress", src, dest, what="sync (one file modified)")
    if out is not None:
        ups = [line.split(" to ")[-1] for line in out.splitlines() if line.startswith("upload:")]
        check_eq(ups, [dest + "two.txt"], "sync after modifying one file uploads only it")
    for k, data in files.items():
        h = s3.head_object(Bucket=BUCKET, Key=f"sync/{k}")
        check_eq(etag(h["ETag"]), md5_hex(data), f"sync/{k} ETag matches the local file")
        if k != "two.txt":
            check_eq(h["LastModified"], before[k]["LastModified"], f"sync/{k} was not rewritten")

    os.remove(os.path.join(src, "one.txt"))
    del files["one.txt"]
    out = aws_ok("s3", "sync", "--no-progress", "--delete", src, dest, what="sync --delete")
    if out is not None:
        dels = [line for line in out.splitlines() if line.startswith("delete:")]
        check_eq(dels, [f"delete: {dest}one.txt"], "sync --delete removes exactly the deleted file")
    check_eq(sorted(list_keys(s3, BUCKET, "sync/")), sorted(f"sync/{k}" for k in files), "keys after sync --delete")

    dl = os.path.join(WORK, "syncdl")
    if aws_ok("s3", "sync", "--no-progress", dest, dl, what="sync (download)") is not None:
        check_eq(tree_files(dl), files, "sync download reproduces the remaining files")


def rm():
    out = aws_ok("s3", "rm", f"s3://{BUCKET}/single/file.bin")
    if out is not None:
        check_eq(out.strip(), f"delete: s3://{BUCKET}/single/file.bin", "rm output")
    code, status = client_error(s3.head_object, Bucket=BUCKET, Key="single/file.bin")
    check_eq(status, 404, "head_object after rm")
    out = aws_ok("s3", "rm", "--recursive", f"s3://{BUCKET}/tree/")
    if out is not None:
        dels = sorted(line for line in out.splitlines() if line.startswith("delete:"))
        check_eq(dels, sorted(f"delete: s3://{BUCKET}/tree/{k}" for k in TREE), "rm --recursive deletes every key")
    check_eq(list_keys(s3, BUCKET, "tree/"), [], "no keys left under tree/")
    check(len(list_keys(s3, BUCKET, "sync/")) == 2, "rm --recursive of tree/ left sync/ alone")


def multipart_100mib():
    path = os.path.join(WORK, "big.bin")
    sha = hashlib.sha256()
    part_md5s = []
    with open(path, "wb") as f:
        left = BIG_SIZE
        while left:
            chunk = os.urandom(min(CLI_PART_SIZE, left))
            f.write(chunk)
            sha.update(chunk)
            part_md5s.append(hashlib.md5(chunk).digest())
            left -= len(chunk)
    nparts = len(part_md5s)
    with open(path, "rb") as f:
        f.seek(50 * MiB - 100)
        middle = f.read(200)  # straddles the part 6 / part 7 boundary
    expected_etag = f"{hashlib.md5(b''.join(part_md5s)).hexdigest()}-{nparts}"

    t = time.monotonic()
    out = aws_ok("s3", "cp", "--no-progress", path, f"s3://{BUCKET}/big/big.bin", what="cp 100 MiB up (multipart)")
    print(f"   upload took {time.monotonic() - t:.1f}s")
    if out is None:
        return
    head = s3.head_object(Bucket=BUCKET, Key="big/big.bin")
    check_eq(head["ContentLength"], BIG_SIZE, "multipart object size")
    check(etag(head["ETag"]).endswith(f"-{nparts}"), f"multipart ETag ends with -{nparts} (got {head['ETag']})")
    check_eq(etag(head["ETag"]), expected_etag, "multipart ETag is MD5 of the part MD5s")
    part1 = s3.head_object(Bucket=BUCKET, Key="big/big.bin", PartNumber=1)
    check_eq(part1["ContentLength"], CLI_PART_SIZE, "head_object PartNumber=1 returns the first part's size")

    dl = os.path.join(WORK, "big.down")
    t = time.monotonic()
    if aws_ok("s3", "cp", "--no-progress", f"s3://{BUCKET}/big/big.bin", dl, what="cp 100 MiB down") is not None:
        print(f"   download took {time.monotonic() - t:.1f}s")
        got = hashlib.sha256()
        with open(dl, "rb") as f:
            for chunk in iter(lambda: f.read(MiB), b""):
                got.update(chunk)
        check_eq(got.hexdigest(), sha.hexdigest(), "sha256 of the downloaded 100 MiB file")
        os.remove(dl)

    # s3-to-s3 copy of a multipart object: aws-cli uses UploadPartCopy with 8 MiB ranges,
    # so the copy has the same parts and therefore the same ETag.
    t = time.monotonic()
    if aws_ok("s3", "cp", "--no-progress", f"s3://{BUCKET}/big/big.bin", f"s3://{BUCKET}/big/copy.bin",
              what="cp 100 MiB s3-to-s3 (multipart copy)") is not None:
        print(f"   copy took {time.monotonic() - t:.1f}s")
        h = s3.head_object(Bucket=BUCKET, Key="big/copy.bin")
        check_eq((h["ContentLength"], etag(h["ETag"])), (BIG_SIZE, expected_etag), "multipart copy size and ETag")
        r = s3.get_object(Bucket=BUCKET, Key="big/copy.bin", Range=f"bytes={50 * MiB - 100}-{50 * MiB + 99}")
        check_eq(r["Body"].read(), middle, "ranged get across a part boundary of the copy")
    os.remove(path)


def s3api():
    body = ("hello from s3api put-object, " * 20).encode()
    src = os.path.join(WORK, "api", "meta.txt")
    write(src, body)
    ctype = "text/plain; charset=utf-8"
    r = aws_json(
        "s3api", "put-object", "--bucket", BUCKET, "--key", "api/meta.txt", "--body", src,
        "--metadata", "owner=smoke,purpose=test", "--content-type", ctype,
    )
    if r is not None:
        check_eq(etag(r.get("ETag")), md5_hex(body), "put-object ETag")
    h = aws_json("s3api", "head-object", "--bucket", BUCKET, "--key", "api/meta.txt")
    if h is not None:
        check_eq(h.get("ContentType"), ctype, "head-object ContentType")
        check_eq(h.get("Metadata"), {"owner": "smoke", "purpose": "test"}, "head-object Metadata")
        check_eq(h.get("ContentLength"), len(body), "head-object ContentLength")
        check_eq(etag(h.get("ETag")), md5_hex(body), "head-object ETag")

    # get-object with --range
    out = os.path.join(WORK, "api", "range.out")
    r = aws_json("s3api", "get-object", "--bucket", BUCKET, "--key", "api/meta.txt", "--range", "bytes=10-19", out)
    if r is not None:
        check_eq(read(out), body[10:20], "get-object --range body")
        check_eq(r.get("ContentRange"), f"bytes 10-19/{len(body)}", "get-object --range ContentRange")
        check_eq(r.get("ContentLength"), 10, "get-object --range ContentLength")
    g = s3.get_object(Bucket=BUCKET, Key="api/meta.txt", Range="bytes=-7")
    check_eq(g["Body"].read(), body[-7:], "boto3 suffix range bytes=-7")
    check_eq(g["ResponseMetadata"]["HTTPStatusCode"], 206, "ranged get is a 206")

    # copy-object (metadata copied by default, replaced on request)
    r = aws_json("s3api", "copy-object", "--copy-source", f"{BUCKET}/api/meta.txt", "--bucket", BUCKET, "--key", "api/copy.txt")
    if r is not None:
        check_eq(etag(r.get("CopyObjectResult", {}).get("ETag")), md5_hex(body), "copy-object ETag")
    c = s3.get_object(Bucket=BUCKET, Key="api/copy.txt")
    check_eq(c["Body"].read(), body, "copied object body")
    check_eq(c["Metadata"], {"owner": "smoke", "purpose": "test"}, "copied object keeps metadata (COPY directive)")
    check_eq(c["ContentType"], ctype, "copied object keeps content type")
    aws_json(
        "s3api", "copy-object", "--copy-source", f"{BUCKET}/api/meta.txt", "--bucket", BUCKET, "--key", "api/copy2.txt",
        "--metadata-directive", "REPLACE", "--metadata", "replaced=yes", "--content-type", "application/json",
    )
    c2 = s3.head_object(Bucket=BUCKET, Key="api/copy2.txt")
    check_eq(c2["Metadata"], {"replaced": "yes"}, "copy-object REPLACE metadata")
    check_eq(c2["ContentType"], "application/json", "copy-object REPLACE content type")

    # list-objects-v2 pagination, both CLI-side (--max-items) and server-side (--page-size)
    keys = [f"page/{i:02d}" for i in range(7)]
    for k in keys:
        s3.put_object(Bucket=BUCKET, Key=k, Body=k.encode())
    p1 = aws_json("s3api", "list-objects-v2", "--bucket", BUCKET, "--prefix", "page/", "--max-items", "3")
    if p1 is not None:
        check_eq([o["Key"] for o in p1.get("Contents", [])], keys[:3], "list-objects-v2 --max-items 3, first page")
        token = p1.get("NextToken")
        check(token, "first page has a NextToken")
        if token:
            p2 = aws_json("s3api", "list-objects-v2", "--bucket", BUCKET, "--prefix", "page/", "--max-items", "3", "--starting-token", token)
            if p2 is not None:
                check_eq([o["Key"] for o in p2.get("Contents", [])], keys[3:6], "second page via --starting-token")
                token = p2.get("NextToken")
                check(token, "second page has a NextToken")
                if token:
                    p3 = aws_json("s3api", "list-objects-v2", "--bucket", BUCKET, "--prefix", "page/", "--max-items", "3", "--starting-token", token)
                    if p3 is not None:
                        check_eq([o["Key"] for o in p3.get("Contents", [])], keys[6:], "last page")
                        check("NextToken" not in p3, "last page has no NextToken")
    p = aws_json("s3api", "list-objects-v2", "--bucket", BUCKET, "--prefix", "page/", "--page-size", "2")
    if p is not None:
        check_eq([o["Key"] for o in p.get("Contents", [])], keys, "list-objects-v2 --page-size 2 (server continuation tokens)")
    r = s3.list_objects_v2(Bucket=BUCKET, Prefix="page/", MaxKeys=3)
    check_eq((r["IsTruncated"], r["KeyCount"], [o["Key"] for o in r["Contents"]]), (True, 3, keys[:3]), "boto3 MaxKeys=3 page")
    r2 = s3.list_objects_v2(Bucket=BUCKET, Prefix="page/", MaxKeys=3, ContinuationToken=r.get("NextContinuationToken", ""))
    check_eq([o["Key"] for o in r2.get("Contents", [])], keys[3:6], "boto3 ContinuationToken page")
    r3 = s3.list_objects_v2(Bucket=BUCKET, Prefix="page/", StartAfter="page/04")
    check_eq([o["Key"] for o in r3.get("Contents", [])], keys[5:], "list-objects-v2 StartAfter")

    # delete-objects (a missing key counts as deleted, as on AWS)
    spec = json.dumps({"Objects": [{"Key": "page/00"}, {"Key": "page/01"}, {"Key": "page/nope"}], "Quiet": False})
    r = aws_json("s3api", "delete-objects", "--bucket", BUCKET, "--delete", spec)
    if r is not None:
        check_eq(sorted(d["Key"] for d in r.get("Deleted", [])), ["page/00", "page/01", "page/nope"], "delete-objects Deleted")
        check_eq(r.get("Errors", []), [], "delete-objects Errors")
    check_eq(list_keys(s3, BUCKET, "page/"), keys[2:], "keys left after delete-objects")

    # error codes through the CLI
    aws_fails("404", "s3api", "head-object", "--bucket", BUCKET, "--key", "api/missing")
    aws_fails("NoSuchKey", "s3api", "get-object", "--bucket", BUCKET, "--key", "api/missing", os.path.join(WORK, "x"))
    aws_fails("NoSuchBucket", "s3api", "list-objects-v2", "--bucket", MISSING_BUCKET)


def versioning():
    aws_ok("s3api", "create-bucket", "--bucket", VBUCKET)
    aws_ok("s3api", "put-bucket-versioning", "--bucket", VBUCKET, "--versioning-configuration", "Status=Enabled")
    v = aws_json("s3api", "get-bucket-versioning", "--bucket", VBUCKET)
    if v is not None:
        check_eq(v.get("Status"), "Enabled", "get-bucket-versioning Status")
    f1, f2 = os.path.join(WORK, "v1.txt"), os.path.join(WORK, "v2.txt")
    write(f1, b"version one\n")
    write(f2, b"version two, longer\n")
    r1 = aws_json("s3api", "put-object", "--bucket", VBUCKET, "--key", "doc.txt", "--body", f1) or {}
    r2 = aws_json("s3api", "put-object", "--bucket", VBUCKET, "--key", "doc.txt", "--body", f2) or {}
    v1, v2 = r1.get("VersionId"), r2.get("VersionId")
    check(v1 and v2 and v1 != v2 and v1 != "null", f"two puts return distinct version ids ({v1!r}, {v2!r})")
    d = aws_json("s3api", "delete-object", "--bucket", VBUCKET, "--key", "doc.txt") or {}
    check_eq(d.get("DeleteMarker"), True, "delete-object on a versioned bucket reports a DeleteMarker")
    dm = d.get("VersionId")
    check(dm and dm not in (v1, v2), f"delete marker has its own version id ({dm!r})")

    lv = aws_json("s3api", "list-object-versions", "--bucket", VBUCKET, "--prefix", "doc.txt")
    if lv is not None:
        versions = lv.get("Versions", [])
        markers = lv.get("DeleteMarkers", [])
        check_eq(sorted(x["VersionId"] for x in versions), sorted([v1, v2]), "list-object-versions shows both versions")
        check_eq([x["IsLatest"] for x in versions], [False, False], "no object version is latest after the delete")
        check_eq([(m["Key"], m["VersionId"], m["IsLatest"]) for m in markers], [("doc.txt", dm, True)], "one delete marker, latest")
        by_id = {x["VersionId"]: x for x in versions}
        if v1 in by_id and v2 in by_id:
            check_eq((by_id[v1]["Size"], by_id[v2]["Size"]), (len(b"version one\n"), len(b"version two, longer\n")), "version sizes")
            check_eq(versions[0]["VersionId"], v2, "versions listed newest first")

    aws_fails("NoSuchKey", "s3api", "get-object", "--bucket", VBUCKET, "--key", "doc.txt", os.path.join(WORK, "vx"),
              what="get-object of a key whose latest version is a delete marker is NoSuchKey")
    out = os.path.join(WORK, "v1.out")
    g = aws_json("s3api", "get-object", "--bucket", VBUCKET, "--key", "doc.txt", "--version-id", v1 or "x", out)
    if g is not None:
        check_eq(read(out), b"version one\n", "get-object --version-id of the first version")
        check_eq(g.get("VersionId"), v1, "get-object echoes the version id")
    # removing the delete marker brings the second version back
    aws_ok("s3api", "delete-object", "--bucket", VBUCKET, "--key", "doc.txt", "--version-id", dm or "x")
    check_eq(s3.get_object(Bucket=VBUCKET, Key="doc.txt")["Body"].read(), b"version two, longer\n",
             "deleting the delete marker restores the newest version")

    # clean up every version, then the bucket
    lv = s3.list_object_versions(Bucket=VBUCKET)
    objs = [{"Key": x["Key"], "VersionId": x["VersionId"]} for x in lv.get("Versions", []) + lv.get("DeleteMarkers", [])]
    if objs:
        s3.delete_objects(Bucket=VBUCKET, Delete={"Objects": objs})
    aws_ok("s3", "rb", f"s3://{VBUCKET}", what="rb of the emptied versioned bucket")
    check_eq(client_error(s3.head_bucket, Bucket=VBUCKET)[1], 404, "versioned bucket is gone")


def boto3_errors():
    code, status = client_error(s3.get_object, Bucket=BUCKET, Key="no/such/key")
    check_eq((code, status), ("NoSuchKey", 404), "get_object on a missing key")
    code, status = client_error(s3.head_bucket, Bucket=MISSING_BUCKET)
    check_eq(status, 404, "head_bucket on a missing bucket")
    code, status = client_error(s3.get_object, Bucket=MISSING_BUCKET, Key="k")
    check_eq((code, status), ("NoSuchBucket", 404), "get_object in a missing bucket")
    bad_secret = boto3.client("s3", endpoint_url=ENDPOINT, region_name=REGION,
                              aws_access_key_id=ACCESS_KEY, aws_secret_access_key="x" * 40)
    check_eq(client_error(bad_secret.list_buckets), ("SignatureDoesNotMatch", 403), "wrong secret key")
    bad_id = boto3.client("s3", endpoint_url=ENDPOINT, region_name=REGION,
                          aws_access_key_id="AKIAAAAAAAAAAAAAAAAA", aws_secret_access_key=SECRET_KEY)
    check_eq(client_error(bad_id.list_buckets), ("InvalidAccessKeyId", 403), "unknown access key id")
    anon = boto3.client("s3", endpoint_url=ENDPOINT, region_name=REGION, config=Config(signature_version=UNSIGNED))
    check_eq(client_error(anon.list_objects_v2, Bucket=BUCKET), ("AccessDenied", 403), "anonymous request")


def tamper(url, param):
    """Change one character of query parameter `param` of a presigned URL, leaving
    every other byte of the URL exactly as the SDK wrote it."""
    base, _, query = url.partition("?")
    out = []
    for pair in query.split("&"):
        k, _, v = pair.partition("=")
        if k == param:
            # flip the first alphanumeric character (skipping %XX escapes)
            i = 0
            while not v[i].isalnum() or (i >= 1 and v[i - 1] == "%") or (i >= 2 and v[i - 2] == "%"):
                i += 1
            v = v[:i] + ("1" if v[i] == "0" else "0") + v[i + 1:]
        out.append(f"{k}={v}")
    tampered = base + "?" + "&".join(out)
    assert tampered != url and len(tampered) == len(url)
    return tampered


def presigned():
    data = os.urandom(4096) + b"presigned"
    for key in ["presign/hello.bin", "presign/with space/ünï+code.bin"]:
        s3.put_object(Bucket=BUCKET, Key=key, Body=data)
        url2 = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300)
        q2 = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url2).query))
        check(set(q2) == {"AWSAccessKeyId", "Signature", "Expires"}, f"default boto3 presign is SigV2 query auth ({sorted(q2)})")
        p = curl("-sf", url2)
        check(p.returncode == 0 and p.stdout == data, f"curl of SigV2 presigned GET {key} (curl rc {p.returncode}, {len(p.stdout)} bytes)")

        url4 = s3v4.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300)
        q4 = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url4).query))
        check_eq(q4.get("X-Amz-Algorithm"), "AWS4-HMAC-SHA256", "s3v4 presign uses SigV4 query auth")
        p = curl("-sf", url4)
        check(p.returncode == 0 and p.stdout == data, f"curl of SigV4 presigned GET {key} (curl rc {p.returncode}, {len(p.stdout)} bytes)")

    status, body = curl_status(tamper(url2, "Signature"))
    check(status == 403 and "SignatureDoesNotMatch" in body, f"tampered SigV2 presigned URL -> 403 SignatureDoesNotMatch (got {status}: {body[:300]})")
    status, body = curl_status(tamper(url4, "X-Amz-Signature"))
    check(status == 403 and "SignatureDoesNotMatch" in body, f"tampered SigV4 presigned URL -> 403 SignatureDoesNotMatch (got {status}: {body[:300]})")
    # A valid signature must not open another key.
    url4h = s3v4.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "presign/hello.bin"}, ExpiresIn=300)
    status, _ = curl_status(url4h.replace("/presign/hello.bin?", "/presign/hellO.bin?"))
    check_eq(status, 403, "SigV4 presigned URL with the key changed")

    # presigned PUT (SigV4) with curl, then read back
    put_data = os.urandom(10_000) + b"via presigned PUT"
    src = os.path.join(WORK, "presigned-put.bin")
    write(src, put_data)
    put_url = s3v4.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "presign/put.bin"}, ExpiresIn=300)
    p = curl("-sf", "-X", "PUT", "--data-binary", f"@{src}", put_url)
    if check(p.returncode == 0, f"curl PUT to a presigned URL (rc {p.returncode}, {p.stderr.decode(errors='replace')})"):
        g = s3.get_object(Bucket=BUCKET, Key="presign/put.bin")
        check_eq(g["Body"].read(), put_data, "object uploaded via presigned PUT")
        check_eq(etag(g["ETag"]), md5_hex(put_data), "presigned PUT ETag")
    status, _ = curl_status(tamper(put_url, "X-Amz-Signature").replace("presign/put.bin", "presign/put2.bin"))
    check_eq(status, 403, "tampered presigned PUT is refused")
    check_eq(client_error(s3.head_object, Bucket=BUCKET, Key="presign/put2.bin")[1], 404, "tampered PUT wrote nothing")

    # expired URL
    short = s3v4.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "presign/hello.bin"}, ExpiresIn=1)
    time.sleep(2.5)
    status, body = curl_status(short)
    check(status == 403 and "AccessDenied" in body, f"expired SigV4 presigned URL -> 403 AccessDenied (got {status}: {body[:300]})")


def remove_bucket():
    out = aws_ok("s3", "rb", "--force", f"s3://{BUCKET}")
    if out is not None:
        check(f"remove_bucket: {BUCKET}" in out, f"rb --force output ends with remove_bucket ({out.strip()[-200:]!r})")
    check_eq(client_error(s3.head_bucket, Bucket=BUCKET)[1], 404, "bucket is gone after rb --force")


def main():
    start = time.monotonic()
    print(f"tarn smoke against {ENDPOINT} (bucket {BUCKET}, work dir {WORK})", flush=True)
    try:
        for fn in (environment, sts, kinesis, make_bucket, cp_single, cp_recursive, ls, sync, rm, multipart_100mib,
                   s3api, versioning, boto3_errors, presigned, remove_bucket):
            section(fn)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    print(f"total {time.monotonic() - start:.1f}s")
    if failures:
        print(f"\n{len(failures)} failure(s):")
        for f in failures:
            print(f"  - {f}")
    print(f"smoke: {passed} passed, {len(failures)} failed", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
