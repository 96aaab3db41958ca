#!/usr/bin/env python3
# Benchmark reference only, not part of the product: a minimal host plugin written the way
# XCP-ng's Python host plugins are (XenAPIPlugin style: argv[1] is the XML-RPC methodCall
# xapi builds, the answer is one methodResponse on stdout), doing the same kernel reads a
# no-op `apply` of vif-ip-binder needs: `ip -j addr show dev X`, `ip -j -4 route`,
# `ip -j -6 route`. `npm run bench` times it next to the compiled vif-ip-binder to put the
# cost of one plugin call in proportion. It changes nothing on the host.

import json
import subprocess
import sys
import xmlrpc.client


def ip_json(*args):
    out = subprocess.run(["ip", "-j", *args], check=True, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL).stdout
    return json.loads(out) if out.strip() else []


def version(_session, _args):
    return {"name": "vif-ip-binder-reference", "version": "0", "protocol": 1}


def apply(_session, args):
    bridge = args["bridge"]
    wanted = [a for a in args.get("addresses", "").split(",") if a]
    gateways = [g for g in args.get("gateway", "").split(",") if g]
    links = ip_json("addr", "show", "dev", bridge)
    routes = {4: ip_json("-4", "route"), 6: ip_json("-6", "route")}
    present = {"%s/%s" % (a["local"], a["prefixlen"]) for link in links for a in link.get("addr_info", [])}
    defaults = [r for family in (4, 6) for r in routes[family] if r.get("dst") == "default"]
    changes, unchanged = [], []
    for cidr in wanted:
        (unchanged if cidr in present else changes).append({"action": "add-address", "dev": bridge, "cidr": cidr})
    for gateway in gateways:
        in_place = any(r.get("gateway") == gateway and r.get("dev") == bridge for r in defaults)
        (unchanged if in_place else changes).append({"action": "switch-default-route", "gateway": gateway})
    return {"bridge": bridge, "dryRun": True, "changes": changes, "unchanged": unchanged, "gatewayChecks": []}


FUNCTIONS = {"version": version, "apply": apply}


def main():
    params, fn = xmlrpc.client.loads(sys.argv[1])
    session, args = params[0], params[1]
    try:
        if fn not in FUNCTIONS:
            raise LookupError(fn)
        answer = {"Status": "Success", "Value": json.dumps(FUNCTIONS[fn](session, args))}
    except LookupError:
        answer = {"Status": "Failure", "ErrorDescription": ["UNKNOWN_XENAPI_PLUGIN_FUNCTION", fn]}
    except Exception as error:  # what XenAPIPlugin answers for an unexpected error
        answer = {"Status": "Failure", "ErrorDescription": ["XENAPI_PLUGIN_FAILURE", fn, type(error).__name__, str(error)]}
    sys.stdout.write(xmlrpc.client.dumps((answer,), methodresponse=True))


if __name__ == "__main__":
    main()
