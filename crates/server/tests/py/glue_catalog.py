"""Glue Data Catalog through boto3: databases, tables and versions, partitions, errors."""
import boto3

from tarn_checks import check, error_and_status as error_code, finish

glue = boto3.client("glue")


cols = [{"Name": "id", "Type": "bigint"}, {"Name": "label", "Type": "string"}]
sd = {
    "Columns": cols,
    "Location": "s3://raw/events/",
    "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        "Parameters": {"field.delim": ","},
    },
    "Parameters": {"classification": "csv", "skip.header.line.count": "1"},
}

# databases
glue.create_database(DatabaseInput={"Name": "Analytics", "Description": "events"})
check(glue.get_database(Name="analytics")["Database"]["Name"] == "analytics", "database names are lower-cased")
check(error_code(glue.create_database, DatabaseInput={"Name": "analytics"}) == ("AlreadyExistsException", 400),
      "CreateDatabase twice -> AlreadyExistsException")
check(error_code(glue.get_database, Name="nope") == ("EntityNotFoundException", 400),
      "GetDatabase of a missing one -> EntityNotFoundException")
# a violation of the model's constraints is Glue's ValidationException (the model's validation,
# before Glue's own checks answer InvalidInputException)
check(error_code(glue.create_database, DatabaseInput={"Name": "x" * 256})[0] == "ValidationException",
      "a 256-character name -> ValidationException")
glue.update_database(Name="analytics", DatabaseInput={"Name": "analytics", "Description": "changed"})
check(glue.get_database(Name="analytics")["Database"]["Description"] == "changed", "UpdateDatabase")
for i in range(3):
    glue.create_database(DatabaseInput={"Name": f"extra{i}"})
names = [d["Name"] for page in glue.get_paginator("get_databases").paginate(PaginationConfig={"PageSize": 2})
         for d in page["DatabaseList"]]
check(names == ["analytics", "default", "extra0", "extra1", "extra2"], f"GetDatabases pages in order: {names}")

# tables and versions
glue.create_table(DatabaseName="analytics", TableInput={
    "Name": "events", "TableType": "EXTERNAL_TABLE", "StorageDescriptor": sd,
    "PartitionKeys": [{"Name": "year", "Type": "string"}, {"Name": "month", "Type": "int"}],
    "Parameters": {"classification": "csv"},
})
t = glue.get_table(DatabaseName="analytics", Name="EVENTS")["Table"]
check(t["Name"] == "events" and t["DatabaseName"] == "analytics", "GetTable")
check(t["StorageDescriptor"]["SerdeInfo"]["Parameters"]["field.delim"] == ",", "SerDe parameters round-trip")
check(t["VersionId"] == "0" and "CreateTime" in t, "a new table is version 0 with a CreateTime")
check(error_code(glue.create_table, DatabaseName="nope", TableInput={"Name": "t"}) == ("EntityNotFoundException", 400),
      "CreateTable in a missing database -> EntityNotFoundException")
check(error_code(glue.create_table, DatabaseName="analytics", TableInput={"Name": "events"})[0]
      == "AlreadyExistsException", "CreateTable twice -> AlreadyExistsException")

sd2 = dict(sd, Columns=cols + [{"Name": "score", "Type": "double"}])
glue.update_table(DatabaseName="analytics", TableInput={
    "Name": "events", "StorageDescriptor": sd2,
    "PartitionKeys": [{"Name": "year", "Type": "string"}, {"Name": "month", "Type": "int"}]})
versions = glue.get_table_versions(DatabaseName="analytics", TableName="events")["TableVersions"]
check([v["VersionId"] for v in versions] == ["1", "0"], "UpdateTable makes a new version")
check(len(versions[1]["Table"]["StorageDescriptor"]["Columns"]) == 2, "the old version keeps the old schema")
check(glue.get_table_version(DatabaseName="analytics", TableName="events", VersionId="0")
      ["TableVersion"]["Table"]["StorageDescriptor"]["Columns"] == cols, "GetTableVersion")
check(error_code(glue.update_table, DatabaseName="analytics", VersionId="0",
                 TableInput={"Name": "events", "StorageDescriptor": sd})[0] == "ConcurrentModificationException",
      "UpdateTable with a stale VersionId -> ConcurrentModificationException")
for name in ["clicks", "clicks_daily", "orders"]:
    glue.create_table(DatabaseName="analytics", TableInput={"Name": name, "StorageDescriptor": sd})
matching = [t["Name"] for t in glue.get_tables(DatabaseName="analytics", Expression="click*")["TableList"]]
check(matching == ["clicks", "clicks_daily"], f"GetTables Expression: {matching}")
paged = [t["Name"] for page in glue.get_paginator("get_tables").paginate(
    DatabaseName="analytics", PaginationConfig={"PageSize": 3}) for t in page["TableList"]]
check(paged == ["clicks", "clicks_daily", "events", "orders"], f"GetTables pages: {paged}")
resp = glue.batch_delete_table(DatabaseName="analytics", TablesToDelete=["orders", "missing"])
check([e["TableName"] for e in resp["Errors"]] == ["missing"], "BatchDeleteTable reports the missing one")

# partitions
def pinput(y, m):
    return {"Values": [y, str(m)], "StorageDescriptor": dict(sd, Location=f"s3://raw/events/year={y}/month={m}/")}

resp = glue.batch_create_partition(DatabaseName="analytics", TableName="events",
                                   PartitionInputList=[pinput(y, m) for y in ("2025", "2026") for m in range(1, 13)])
check(resp["Errors"] == [], "BatchCreatePartition of 24")
resp = glue.batch_create_partition(DatabaseName="analytics", TableName="events",
                                   PartitionInputList=[pinput("2026", 1), {"Values": ["only-one"]}])
codes = sorted(e["ErrorDetail"]["ErrorCode"] for e in resp["Errors"])
check(codes == ["AlreadyExistsException", "InvalidInputException"], f"BatchCreatePartition per-entry errors: {codes}")
check(error_code(glue.batch_create_partition, DatabaseName="analytics", TableName="events",
                 PartitionInputList=[pinput("2030", m) for m in range(101)])[0] == "ValidationException",
      "BatchCreatePartition over 100 (the model's maximum) -> ValidationException")
glue.create_partition(DatabaseName="analytics", TableName="events", PartitionInput=pinput("2027", 1))
p = glue.get_partition(DatabaseName="analytics", TableName="events", PartitionValues=["2027", "1"])["Partition"]
check(p["StorageDescriptor"]["Location"].endswith("year=2027/month=1/"), "GetPartition")
late = glue.get_partitions(DatabaseName="analytics", TableName="events",
                           Expression="year='2026' AND month>10")["Partitions"]
check(sorted(p["Values"][1] for p in late) == ["11", "12"], "GetPartitions Expression compares int keys as numbers")
some = glue.get_partitions(DatabaseName="analytics", TableName="events",
                           Expression="year IN ('2025') AND month BETWEEN 2 AND 4")["Partitions"]
check(len(some) == 3, "GetPartitions IN and BETWEEN")
check(error_code(glue.get_partitions, DatabaseName="analytics", TableName="events",
                 Expression="year = ")[0] == "InvalidInputException", "a bad Expression -> InvalidInputException")
allp = [tuple(p["Values"]) for page in glue.get_paginator("get_partitions").paginate(
    DatabaseName="analytics", TableName="events", PaginationConfig={"PageSize": 7}) for p in page["Partitions"]]
check(len(allp) == 25 and len(set(allp)) == 25, f"GetPartitions pages cover all 25 once: {len(allp)}")
resp = glue.batch_get_partition(DatabaseName="analytics", TableName="events",
                                PartitionsToGet=[{"Values": ["2025", "1"]}, {"Values": ["1999", "1"]}])
check(len(resp["Partitions"]) == 1 and resp["UnprocessedKeys"] == [], "BatchGetPartition omits missing ones")
glue.update_partition(DatabaseName="analytics", TableName="events", PartitionValueList=["2027", "1"],
                      PartitionInput=dict(pinput("2027", 1), Parameters={"note": "fixed"}))
check(glue.get_partition(DatabaseName="analytics", TableName="events", PartitionValues=["2027", "1"])
      ["Partition"]["Parameters"] == {"note": "fixed"}, "UpdatePartition")
glue.delete_partition(DatabaseName="analytics", TableName="events", PartitionValues=["2027", "1"])
check(error_code(glue.get_partition, DatabaseName="analytics", TableName="events",
                 PartitionValues=["2027", "1"])[0] == "EntityNotFoundException", "DeletePartition")
resp = glue.batch_delete_partition(DatabaseName="analytics", TableName="events",
                                   PartitionsToDelete=[{"Values": ["2025", "1"]}, {"Values": ["1999", "1"]}])
check([e["PartitionValues"] for e in resp["Errors"]] == [["1999", "1"]], "BatchDeletePartition")

glue.delete_table(DatabaseName="analytics", Name="clicks")
check(error_code(glue.get_table, DatabaseName="analytics", Name="clicks")[0] == "EntityNotFoundException",
      "DeleteTable")
glue.delete_database(Name="extra0")
finish("glue")
