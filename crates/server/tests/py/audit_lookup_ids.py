"""Prints the request id of every recorded event named argv[1], paging LookupEvents."""
import json
import sys

import boto3

ct = boto3.client("cloudtrail")
token = None
while True:
    kwargs = {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": sys.argv[1]}], "MaxResults": 50}
    if token:
        kwargs["NextToken"] = token
    page = ct.lookup_events(**kwargs)
    for e in page["Events"]:
        print("id", json.loads(e["CloudTrailEvent"])["requestID"])
    token = page.get("NextToken")
    if not token:
        break
