"""What the boto3 test scripts share: checks that record failures, error codes, Athena polling."""
import json
import sys
import time

from botocore.exceptions import ClientError

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def error_and_status(fn, *args, **kwargs):
    """(AWS error code, HTTP status) of a call, or (None, 200) when it succeeds."""
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, 200


def error_code(fn, *args, **kwargs):
    return error_and_status(fn, *args, **kwargs)[0]


def wait_query(athena, qid, timeout=60):
    """Polls an Athena execution until it ends; returns its QueryExecution."""
    deadline = time.time() + timeout
    while True:
        q = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        if q["Status"]["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return q
        if time.time() > deadline:
            raise TimeoutError(f"query {qid} still {q['Status']['State']} after {timeout}s")
        time.sleep(0.02)


def finish(name):
    print(f"{name}: {len(failures)} failures")
    sys.exit(1 if failures else 0)


def trust(service):
    """A role trust policy letting `service` assume the role."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


def allow(actions, resources):
    """A policy document allowing `actions` on `resources`."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": actions, "Resource": resources}]})


def crawl(glue, name, timeout=60):
    """Starts a crawler and waits for its crawl to end; returns its LastCrawl."""
    glue.start_crawler(Name=name)
    deadline = time.time() + timeout
    while time.time() < deadline:
        c = glue.get_crawler(Name=name)["Crawler"]
        if c["State"] == "READY" and c.get("LastCrawl"):
            return c["LastCrawl"]
        time.sleep(0.1)
    raise TimeoutError(name)
