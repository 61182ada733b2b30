"""After a restart, the catalog written by glue_catalog.py is all there."""
import sys

import boto3

glue = boto3.client("glue")
t = glue.get_table(DatabaseName="analytics", Name="events")["Table"]
assert t["VersionId"] == "1", t
assert len(t["StorageDescriptor"]["Columns"]) == 3
versions = glue.get_table_versions(DatabaseName="analytics", TableName="events")["TableVersions"]
assert [v["VersionId"] for v in versions] == ["1", "0"], versions
parts = glue.get_partitions(DatabaseName="analytics", TableName="events")["Partitions"]
assert len(parts) == 23, len(parts)
dbs = [d["Name"] for d in glue.get_databases()["DatabaseList"]]
assert dbs == ["analytics", "default", "extra1", "extra2"], dbs
print("glue after restart: ok")
sys.exit(0)
