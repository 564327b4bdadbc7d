#!/usr/bin/env python3
"""List the accounts that posted about a CVE in the last N days, from a cvecrowd API.

    CVECROWD_KEY=cvc_... python3 examples/accounts.py --days 3 CVE-2024-3094

Prints one line per account, "acct<TAB>posts", sorted by acct. The server is
http://127.0.0.1:8080 unless CVECROWD_URL says otherwise. Needs `requests`.
"""
import argparse
import collections
import os
import sys
import time
import urllib.parse

import requests


def fetch_posts(base, key, cve, days):
    url = f"{base}/api/v1/cves/{urllib.parse.quote(cve, safe='')}/posts"
    headers = {"Authorization": f"Bearer {key}"}
    for attempt in range(2):
        r = requests.get(url, params={"days": days}, headers=headers, timeout=30)
        if r.status_code == 429 and attempt == 0:
            # Over the key's rate limit: wait as long as the server asks, once.
            time.sleep(max(int(r.headers.get("Retry-After", "1")), 1))
            continue
        if r.status_code != 200:
            try:
                err = r.json()
            except ValueError:
                err = {"error": "?", "detail": r.text[:200]}
            raise SystemExit(f"accounts: {r.status_code}: {err.get('detail')} ({err.get('error')})")
        return r.json()
    raise SystemExit("accounts: still rate limited")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days", type=int, default=3, help="window in days (1 to 30)")
    p.add_argument("cve", help="a CVE ID such as CVE-2024-3094")
    args = p.parse_args()
    base = os.environ.get("CVECROWD_URL", "http://127.0.0.1:8080")
    posts = fetch_posts(base, os.environ.get("CVECROWD_KEY", ""), args.cve, args.days)
    counts = collections.Counter(post["account"]["acct"] for post in posts)
    for acct in sorted(counts):
        print(f"{acct}\t{counts[acct]}")


if __name__ == "__main__":
    sys.exit(main())
