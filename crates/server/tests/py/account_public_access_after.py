"""After a restart: the account's Block Public Access settings kept by account_public_access.py
(phase `keep`: RestrictPublicBuckets only) are still in force."""
import os
import socket
from urllib.parse import urlparse

import boto3
from botocore import UNSIGNED
from botocore.config import Config

from tarn_checks import check, error_code, finish

_getaddrinfo = socket.getaddrinfo
socket.getaddrinfo = lambda host, *a, **k: _getaddrinfo("127.0.0.1" if str(host).endswith(".localhost") else host, *a, **k)

port = urlparse(os.environ["AWS_ENDPOINT_URL"]).port
control = boto3.client("s3control", endpoint_url=f"http://localhost:{port}")
got = control.get_public_access_block(AccountId="000000000000")["PublicAccessBlockConfiguration"]
check(got["RestrictPublicBuckets"] and not got["BlockPublicPolicy"], f"the account's settings survive: {got}")
anon = boto3.client("s3", config=Config(signature_version=UNSIGNED))
check(error_code(anon.get_object, Bucket="site", Key="index.html") == "AccessDenied", "and still keep readers out")
finish("account public access after restart")
