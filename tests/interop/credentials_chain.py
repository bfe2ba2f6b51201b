#!/usr/bin/env python3
"""Differential check of the credentials chain: the official Python library
(`alibabacloud-credentials`, its default chain as `Client()` builds it) and `grantguard whoami
--format json` answer the same question in each set-up below (docs/credentials.md).

In: the grantguard binary and a fixture account (for the emulator's STS).
Out: one line per set-up and a final `N passed, M failed`; exit 1 on any failure.

Each set-up runs both tools in a fresh process with an isolated HOME (a new temporary folder
holding only the set-up's files) and only the set-up's variables. They must agree on the step
that supplied the credentials and on the key (grantguard masks it to its last 4 characters, so
every fixed key below ends differently; an STS key each tool obtained for itself is compared by
step, token presence and the emulator's log), or both must fail. A set-up whose answers differ
on purpose names the reason in DELIBERATE and states each tool's answer, so a drift on either
side still fails.

Neither official library lets the STS host or the ECS metadata address be changed. The Python
side therefore runs with its URL composer wrapped: the STS host goes to the loopback emulator,
100.100.100.200 to the loopback fake metadata service below, and any other non-loopback host is
refused before a byte is sent. Only where the bytes go changes; the library decides everything
else. grantguard gets the same two addresses through GRANTGUARD_STS_ENDPOINT and
GRANTGUARD_ECS_METADATA_ENDPOINT.
"""

import argparse
import base64
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sdk_interop import Emulator  # noqa: E402  (the same emulator runner as the SDK check)

CHILD_TIMEOUT_S = 60
ROLE_ARN = "acs:ram::1234567890:role/ack-pod"
PROVIDER_ARN = "acs:ram::1234567890:oidc-provider/ack-rrsa"
ECS_ROLE = "EcsAuditRole"
ECS_KEY = "STS.ecsFixedKeyE001"
URI_KEY = "STS.uriFixedKeyU001"

# The Python chain's provider names (the part after `default/`) for grantguard's step ids.
STEP_OF_PROVIDER = {
    "env": "environment",
    "oidc_role_arn": "oidc_role",
    "cli_profile": "cli_profile",
    "profile": "credentials_file",
    "ecs_ram_role": "ecs_ram_role",
    "credential_uri": "credentials_uri",
}

# Runs inside the Python child: the official default chain, with only the transport redirected.
CHILD = r"""
import json, os, sys, urllib.parse
from Tea.core import TeaCore
compose = TeaCore.compose_url
def redirected(request):
    url = urllib.parse.urlsplit(compose(request))
    host = url.hostname or ""
    if host == "100.100.100.200":
        base = urllib.parse.urlsplit(os.environ["GG_HARNESS_METADATA"])
    elif host.startswith(("sts.", "sts-vpc.")) and host.endswith(".aliyuncs.com"):
        base = urllib.parse.urlsplit(os.environ["GG_HARNESS_STS"])
    elif host in ("127.0.0.1", "localhost"):
        base = url
    else:
        raise RuntimeError("harness: refused to contact " + host)
    return urllib.parse.urlunsplit((base.scheme, base.netloc, url.path or "/", url.query, ""))
TeaCore.compose_url = staticmethod(redirected)
from alibabacloud_credentials.client import Client
try:
    profile = os.environ.get("GG_HARNESS_CLI_PROFILE")
    if profile:
        from alibabacloud_credentials.provider import CLIProfileCredentialsProvider
        client = Client(provider=CLIProfileCredentialsProvider(profile_name=profile))
    else:
        client = Client()
    c = client.get_credential()
    print(json.dumps({"provider": c.provider_name, "key": c.access_key_id,
                      "token": bool(c.security_token)}))
except Exception as e:
    print(json.dumps({"error": type(e).__name__ + ": " + str(e)[:300]}))
"""


def jwt(subject):
    """An OIDC token as a pod's projected service-account token looks (unsigned here)."""
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    now = int(time.time())
    claims = {"iss": "https://oidc.example.test/ack", "sub": subject, "aud": "sts.aliyuncs.com",
              "iat": now, "exp": now + 3600}
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


class FakeMetadata(http.server.BaseHTTPRequestHandler):
    """The ECS metadata service (IMDSv2 token, role name, fixed credentials) and a credentials
    URI, on loopback. `attached` says whether an instance role is there."""

    attached = False

    def log_message(self, *args):
        pass

    def answer(self, status, body, content_type="text/plain"):
        data = body.encode()
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        if self.path == "/latest/api/token":
            return self.answer(200, "fake-imds-token")
        self.answer(404, "Not Found")

    def do_GET(self):
        expiration = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 6 * 3600))
        key = {"Code": "Success", "AccessKeySecret": "fake-secret", "SecurityToken": "fake-token",
               "Expiration": expiration, "LastUpdated": expiration}
        prefix = "/latest/meta-data/ram/security-credentials/"
        if self.path == "/uri-credentials":
            return self.answer(200, json.dumps(dict(key, AccessKeyId=URI_KEY)), "application/json")
        if not FakeMetadata.attached or not self.path.startswith(prefix):
            return self.answer(404, "Not Found")
        if self.path == prefix:
            return self.answer(200, ECS_ROLE)
        if self.path == prefix + ECS_ROLE:
            return self.answer(200, json.dumps(dict(key, AccessKeyId=ECS_KEY)), "application/json")
        self.answer(404, "Not Found")


def config_json(current, *profiles):
    return json.dumps({"current": current, "profiles": list(profiles)})


def ak(name, key, mode="AK"):
    return {"name": name, "mode": mode, "access_key_id": key, "access_key_secret": "s-" + name,
            "region_id": "cn-hangzhou"}


ENV_KEY = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIenvKeyEnv1", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s-env"}
ECS_OFF = {"ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true"}
OIDC = {"ALIBABA_CLOUD_ROLE_ARN": ROLE_ARN, "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": PROVIDER_ARN,
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE": "{home}/token"}
CLI = {".aliyun/config.json": config_json("main", ak("main", "LTAIcliMainCli1"),
                                          ak("other", "LTAIcliOtherCli2"),
                                          dict(ak("sts", "STS.cliStsCli3", "StsToken"),
                                               sts_token="t-cli"),
                                          ak("lower", "LTAIcliLowerCli4", "ak"),
                                          {"name": "bogus", "mode": "Bogus"},
                                          {"name": "ecs", "mode": "EcsRamRole",
                                           "ram_role_name": ECS_ROLE})}
INI = {".alibabacloud/credentials.ini":
       "[default]\ntype = access_key\naccess_key_id = LTAIiniDefIni1\naccess_key_secret = s-ini\n\n"
       "[work]\ntype = access_key\naccess_key_id = LTAIiniWorkIni2\naccess_key_secret = s-work\n\n"
       "[sts]\ntype = sts\naccess_key_id = STS.iniStsIni3\naccess_key_secret = s\nsecurity_token = t\n\n"
       "[ecs]\ntype = ecs_ram_role\nrole_name = " + ECS_ROLE + "\n\n"
       "[oidc]\ntype = oidc_role_arn\nrole_arn = " + ROLE_ARN + "\noidc_provider_arn = " + PROVIDER_ARN
       + "\noidc_token_file_path = {home}/token\n\n"
       "[bogus]\ntype = bogus_type\n"}
TOKEN = {"token": jwt("system:serviceaccount:audit:grantguard")}

# (name, variables, files, instance role attached, grantguard's extra arguments)
SETUPS = [
    ("env key alone", dict(ENV_KEY, **ECS_OFF), {}, False, []),
    ("env key with token", dict(ENV_KEY, ALIBABA_CLOUD_SECURITY_TOKEN="t-env", **ECS_OFF), {}, False, []),
    ("env empty token is no token", dict(ENV_KEY, ALIBABA_CLOUD_SECURITY_TOKEN="", **ECS_OFF), {}, False, []),
    ("env beats cli profile and ini", dict(ENV_KEY), {**CLI, **INI}, True, []),
    ("env empty values are unset", dict(ALIBABA_CLOUD_ACCESS_KEY_ID="", ALIBABA_CLOUD_ACCESS_KEY_SECRET=""), CLI, False, []),
    ("generic ACCESS_KEY_* do not beat the cli profile",
     dict(ACCESS_KEY_ID="LTAIgenericGen1", ACCESS_KEY_SECRET="s"), CLI, False, []),
    ("ALICLOUD_* alone are not read", dict(ALICLOUD_ACCESS_KEY_ID="LTAIalicloudAli1", ALICLOUD_ACCESS_KEY_SECRET="s", **ECS_OFF), {}, False, []),
    ("ALIBABACLOUD_* do not beat the ini file",
     dict(ALIBABACLOUD_ACCESS_KEY_ID="LTAIabcAbc1", ALIBABACLOUD_ACCESS_KEY_SECRET="s"), INI, False, []),
    ("a stray SECURITY_TOKEN is not attached", dict(SECURITY_TOKEN="stray"), CLI, False, []),
    ("families are never mixed",
     dict(ALIBABA_CLOUD_ACCESS_KEY_ID="LTAIhalfHalf1", ALICLOUD_ACCESS_KEY_SECRET="s"), CLI, False, []),
    ("cli current profile", {}, CLI, False, []),
    ("cli ALIBABA_CLOUD_PROFILE", dict(ALIBABA_CLOUD_PROFILE="other"), CLI, False, []),
    ("cli StsToken profile", dict(ALIBABA_CLOUD_PROFILE="sts"), CLI, False, []),
    ("cli disabled falls to ini", dict(ALIBABA_CLOUD_CLI_PROFILE_DISABLED="true"), {**CLI, **INI}, False, []),
    ("cli disabled, upper case", dict(ALIBABA_CLOUD_CLI_PROFILE_DISABLED="TRUE"), {**CLI, **INI}, False, []),
    ("profile named only in the ini file", dict(ALIBABA_CLOUD_PROFILE="work"), {**CLI, **INI}, False, []),
    ("cli damaged config file, ini present", {},
     {".aliyun/config.json": '{"current": "main", "profiles": [', **INI}, False, []),
    ("cli unsupported mode, nothing else", dict(ALIBABA_CLOUD_PROFILE="bogus", **ECS_OFF), CLI, False, []),
    ("cli mode in lower case", dict(ALIBABA_CLOUD_PROFILE="lower", **ECS_OFF), CLI, False, []),
    ("ini default section", {}, INI, False, []),
    ("ini named section", dict(ALIBABA_CLOUD_PROFILE="work"), INI, False, []),
    ("ini ALIBABA_CLOUD_CREDENTIALS_FILE", dict(ALIBABA_CLOUD_CREDENTIALS_FILE="{home}/elsewhere.ini"),
     {"elsewhere.ini": "[default]\ntype = access_key\naccess_key_id = LTAIelsewhereEls1\naccess_key_secret = s\n"}, False, []),
    ("ini empty ALIBABA_CLOUD_CREDENTIALS_FILE is unset", dict(ALIBABA_CLOUD_CREDENTIALS_FILE=""), INI, False, []),
    ("ini empty ALIBABA_CLOUD_PROFILE", dict(ALIBABA_CLOUD_PROFILE="", **ECS_OFF), INI, False, []),
    ("ini beats an attached instance role", {}, INI, True, []),
    ("ini ecs_ram_role section", dict(ALIBABA_CLOUD_PROFILE="ecs"), INI, True, []),
    ("ini ecs_ram_role section, metadata disabled", dict(ALIBABA_CLOUD_PROFILE="ecs", **ECS_OFF), INI, True, []),
    ("cli EcsRamRole profile", dict(ALIBABA_CLOUD_PROFILE="ecs"), CLI, True, []),
    ("ini sts section", dict(ALIBABA_CLOUD_PROFILE="sts", **ECS_OFF), INI, False, []),
    ("ini oidc_role_arn section", dict(ALIBABA_CLOUD_PROFILE="oidc"), {**INI, **TOKEN}, False, []),
    ("ini unsupported type, nothing else", dict(ALIBABA_CLOUD_PROFILE="bogus", **ECS_OFF), INI, False, []),
    ("ini unsupported type, instance role attached", dict(ALIBABA_CLOUD_PROFILE="bogus"), INI, True, []),
    ("ini repeated section, nothing else", dict(ECS_OFF),
     {".alibabacloud/credentials.ini": "[default]\ntype = access_key\naccess_key_id = LTAIdupDup1\n"
      "access_key_secret = s\n[default]\ntype = access_key\n"}, False, []),
    ("ini damaged header, nothing else", dict(ECS_OFF),
     {".alibabacloud/credentials.ini": "[default\ntype = access_key\naccess_key_id = LTAIbadBad1\n"}, False, []),
    ("ini writable by others", {}, {**INI, "chmod": "666"}, True, []),
    ("ini under the Node name only", dict(**ECS_OFF),
     {".alibabacloud/credentials": "[default]\ntype = access_key\naccess_key_id = LTAInodeNod1\naccess_key_secret = s\n"}, False, []),
    ("instance role alone", {}, {}, True, []),
    ("instance role named", dict(ALIBABA_CLOUD_ECS_METADATA=ECS_ROLE), {}, True, []),
    ("instance role, IMDSv1 disabled", dict(ALIBABA_CLOUD_IMDSV1_DISABLED="true"), {}, True, []),
    ("instance role disabled", dict(ECS_OFF), {}, True, []),
    ("instance role disabled, mixed case", dict(ALIBABA_CLOUD_ECS_METADATA_DISABLED="True"), {}, True, []),
    ("no instance role attached, nothing else", {}, {}, False, []),
    ("oidc env", dict(OIDC), TOKEN, False, []),
    ("oidc env with session name", dict(OIDC, ALIBABA_CLOUD_ROLE_SESSION_NAME="pod-a"), TOKEN, False, []),
    ("env beats oidc", dict(OIDC, **ENV_KEY), TOKEN, False, []),
    ("oidc beats the cli profile", dict(OIDC), {**TOKEN, **CLI}, False, []),
    ("oidc partly set", dict(ALIBABA_CLOUD_ROLE_ARN=ROLE_ARN, ALIBABA_CLOUD_OIDC_TOKEN_FILE="{home}/token"),
     {**TOKEN, **CLI}, False, []),
    ("credentials uri", dict(ALIBABA_CLOUD_CREDENTIALS_URI="{metadata}/uri-credentials", **ECS_OFF), {}, False, []),
    ("instance role beats credentials uri", dict(ALIBABA_CLOUD_CREDENTIALS_URI="{metadata}/uri-credentials"), {}, True, []),
    ("--profile", dict(ENV_KEY), CLI, False, ["--profile", "other"]),
]

# Set-ups whose answers differ on purpose: (grantguard's answer, Python's answer, reason).
# An answer is a step id, or "error".
DELIBERATE = {
    "families are never mixed": ("error", "cli_profile",
        "half an access key in the environment is a broken environment step: grantguard stops, "
        "the library goes on to the next step"),
    "cli damaged config file, ini present": ("error", "credentials_file",
        "an aliyun CLI config file that is not valid JSON is a broken step: grantguard stops, "
        "the library goes on to the credentials file"),
    "cli mode in lower case": ("cli_profile", "error",
        "grantguard matches profile modes case-insensitively, as the aliyun CLI that writes the "
        "file does; the Python library only knows the exact spelling"),
    "ini empty ALIBABA_CLOUD_PROFILE": ("credentials_file", "error",
        "an empty variable is unset everywhere in grantguard (and in the Node library); the "
        "Python library looks for a section named ''"),
    "ini sts section": ("credentials_file", "error",
        "type sts is a fixed STS key, which the Node library's file loader accepts and the "
        "Python default chain's does not"),
    "ini unsupported type, instance role attached": ("error", "ecs_ram_role",
        "a configured but unusable section stops grantguard, which would otherwise sign as the "
        "instance role"),
    "ini writable by others": ("error", "credentials_file",
        "grantguard refuses a credentials file others may write (anyone could swap the key); "
        "the library does not check"),
    "ini under the Node name only": ("credentials_file", "error",
        "grantguard reads ~/.alibabacloud/credentials (the Node and Go name) after "
        "credentials.ini (the Python name)"),
    "oidc partly set": ("error", "cli_profile",
        "two of the three OIDC variables is a broken OIDC step: grantguard stops, the library "
        "skips the step"),
}

# For --profile the Python side is asked about that profile directly (it has no such flag).
PYTHON_PROFILE = {"--profile": "other"}


def write_files(home, files):
    mode = int(files.get("chmod", "600"), 8)
    for rel, text in files.items():
        if rel == "chmod":
            continue
        path = os.path.join(home, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace("{home}", home))
        os.chmod(path, mode if rel.startswith(".alibabacloud") else 0o600)


def base_env(home, sim_url, metadata_url):
    return {"HOME": home, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
            "GG_HARNESS_STS": sim_url, "GG_HARNESS_METADATA": metadata_url,
            "GRANTGUARD_STS_ENDPOINT": sim_url, "GRANTGUARD_ECS_METADATA_ENDPOINT": metadata_url,
            "ALIBABA_CLOUD_REGION_ID": "cn-hangzhou", "NO_COLOR": "1"}


def ask_python(env, profile):
    if profile:
        env = dict(env, GG_HARNESS_CLI_PROFILE=profile)
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True,
                         timeout=CHILD_TIMEOUT_S)
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if not lines:
        return {"error": f"no answer (exit {out.returncode}): {out.stderr[-300:]}"}
    answer = json.loads(lines[-1])
    if "provider" in answer:
        parts = answer["provider"].split("/")
        inner = parts[1] if parts[0] == "default" and len(parts) > 1 else parts[0]
        answer["step"] = STEP_OF_PROVIDER.get(inner, inner)
    return answer


def ask_grantguard(binary, env, args):
    out = subprocess.run([binary, "whoami", "--format", "json", *args], env=env,
                         capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[0:3], "exit": out.returncode,
                "stderr": out.stderr}
    doc = json.loads(out.stdout)
    return {"step": doc["source"]["step"], "key": doc["access_key_id"],
            "token": doc["security_token"], "stderr": out.stderr}


def answer_of(result):
    """A step id, or "error". `--profile` is the CLI profile step asked for by name."""
    if "error" in result:
        return "error"
    return "cli_profile" if result["step"] == "profile_flag" else result["step"]


def oidc_calls(sim):
    return sum(1 for c in sim.calls() if c.get("action") == "AssumeRoleWithOIDC" and c.get("status") == 200)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--fixture", required=True)
    args = parser.parse_args()

    sim = Emulator(args.binary, args.fixture)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeMetadata)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    metadata_url = f"http://127.0.0.1:{server.server_address[1]}"
    sim_url = f"http://{sim.addr}"
    passed = failed = 0
    try:
        for name, variables, files, attached, gg_args in SETUPS:
            FakeMetadata.attached = attached
            with tempfile.TemporaryDirectory(prefix="gg-cred-home-") as home:
                write_files(home, files)
                env = base_env(home, sim_url, metadata_url)
                env.update({k: v.replace("{home}", home).replace("{metadata}", metadata_url)
                            for k, v in variables.items()})
                before = oidc_calls(sim)
                py = ask_python(env, PYTHON_PROFILE.get(name))
                gg = ask_grantguard(args.binary, env, gg_args)
                issued = oidc_calls(sim) - before
            problems = check(name, py, gg, issued)
            if problems:
                failed += 1
                print(f"FAIL {name}: {'; '.join(problems)}\n  python: {py}\n  grantguard: "
                      f"{ {k: v for k, v in gg.items() if k != 'stderr'} }", flush=True)
            else:
                passed += 1
                note = " (deliberate difference)" if name in DELIBERATE else ""
                print(f"ok   {name}: {answer_of(gg)}{note}", flush=True)
    finally:
        server.shutdown()
        sim.close()
    print(f"credentials differential: {len(SETUPS)} set-ups, {len(DELIBERATE)} deliberate differences")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def check(name, py, gg, issued):
    """What is wrong with the two answers of set-up `name` (empty when they agree)."""
    problems = []
    if "fake-secret" in gg.get("stderr", "") or "s-env" in gg.get("stderr", ""):
        problems.append("grantguard printed a secret")
    if name in DELIBERATE:
        want_gg, want_py, _ = DELIBERATE[name]
        if (answer_of(gg), answer_of(py)) != (want_gg, want_py):
            problems.append(f"expected the documented difference grantguard={want_gg}, "
                            f"python={want_py}")
        if want_gg == "error" and "is configured but failed" not in gg.get("stderr", "") \
                and "writable by group or others" not in gg.get("stderr", ""):
            problems.append("grantguard's error does not name the failed step")
        return problems
    if answer_of(gg) != answer_of(py):
        problems.append(f"different sources: grantguard={answer_of(gg)}, python={answer_of(py)}")
        return problems
    if "error" in gg:
        return problems
    if gg["token"] != py["token"]:
        problems.append("one has an STS token and the other not")
    if answer_of(gg) == "oidc_role" or (gg["step"] == "credentials_file" and py["key"].startswith("STS.NSim")):
        if issued != 2:
            problems.append(f"expected one AssumeRoleWithOIDC from each tool, the emulator saw {issued}")
    elif gg["key"] != "****" + py["key"][-4:]:
        problems.append(f"different keys: grantguard {gg['key']}, python ****{py['key'][-4:]}")
    return problems


if __name__ == "__main__":
    sys.exit(main())
