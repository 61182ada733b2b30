#!/usr/bin/env python3
"""Crawl benchmark: how long a Glue crawler takes over N small CSV files (target: 10,000 in < 30 s).

Run against a running tarn (release build for real figures):
    cargo run --release -- serve --data-dir target/bench-crawl-data &
    AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... \
        python3 bench/crawl.py [--files 10000] [--folders 100]
Needs boto3. Files are spread over Hive partition folders (dt=NNN/), as a daily-partitioned
dataset is; the upload is not timed, the crawl is (StartCrawler until READY), and the same
crawl is timed again as a recrawl with nothing changed.
"""
import argparse
import concurrent.futures
import time

import boto3
from botocore.config import Config

p = argparse.ArgumentParser()
p.add_argument("--files", type=int, default=10000)
p.add_argument("--folders", type=int, default=100)
p.add_argument("--bucket", default="crawl-bench")
args = p.parse_args()

cfg = Config(max_pool_connections=32, retries={"max_attempts": 5})
s3 = boto3.client("s3", config=cfg)
glue = boto3.client("glue")
try:
    s3.create_bucket(Bucket=args.bucket)
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
body = b"id,user,score,ts\n" + b"".join(f"{i},user{i},{i * 0.5},2026-11-26 10:00:00\n".encode() for i in range(20))

def put(i):
    s3.put_object(Bucket=args.bucket, Key=f"events/dt={i % args.folders:04d}/part-{i:06d}.csv", Body=body)

t0 = time.time()
with concurrent.futures.ThreadPoolExecutor(32) as ex:
    list(ex.map(put, range(args.files)))
upload = time.time() - t0

name = f"bench-{int(time.time())}"
glue.create_crawler(Name=name, Role="arn:aws:iam::000000000000:role/bench", DatabaseName="bench",
                    Targets={"S3Targets": [{"Path": f"s3://{args.bucket}/events/"}]})

def crawl():
    before = glue.get_crawler(Name=name)["Crawler"].get("LastCrawl", {}).get("StartTime")
    t = time.time()
    glue.start_crawler(Name=name)
    while True:
        c = glue.get_crawler(Name=name)["Crawler"]
        last = c.get("LastCrawl", {})
        # done when this crawl (not the one before it) is the last one
        if c["State"] == "READY" and last.get("StartTime") and last.get("StartTime") != before:
            return time.time() - t, last["Status"]
        time.sleep(0.05)

first, status = crawl()
again, status2 = crawl()
parts = 0
for page in glue.get_paginator("get_partitions").paginate(DatabaseName="bench", TableName="events"):
    parts += len(page["Partitions"])
print(f"files: {args.files} in {args.folders} partitions (upload {upload:.1f} s, {args.files / upload:.0f} PUT/s)")
print(f"crawl: {first:.2f} s ({status}), {args.files / first:.0f} files/s; recrawl unchanged: {again:.2f} s ({status2})")
whole = status == "SUCCEEDED" and parts == args.folders
print(f"partitions registered: {parts} of {args.folders}; target: 10,000 files < 30 s -> "
      f"{'met' if first < 30 and whole else 'NOT met'}{'' if whole else ' (the crawl failed or missed partitions)'}")
