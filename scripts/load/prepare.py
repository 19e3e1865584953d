"""Accounts for the load plan, made through the portal's own server functions: USERS people
and LABELERS labelers (signed up, then given their role by the administrator), and a few
identifications so the labelling queue is not empty. Writes "username password role" lines.

Usage: prepare.py BASE_URL ADMIN_PASSWORD PHOTO_DIR OUT_FILE [USERS] [LABELERS]
"""
import http.cookiejar
import json
import pathlib
import secrets
import sys
import urllib.parse
import urllib.request


def session():
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def call(opener, base, endpoint, **fields):
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(f"{base}/api/{endpoint}", data=data, headers={"accept": "application/json"})
    with opener.open(req, timeout=60) as r:
        body = r.read()
    return json.loads(body) if body.strip() else None


def identify(opener, base, photo):
    boundary = "prepareboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{photo.name}\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode() + photo.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(f"{base}/api/v1/identify", data=body,
                                 headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    with opener.open(req, timeout=120) as r:
        return json.loads(r.read())["results"][0]["id"]


def main():
    base, admin_password, photo_dir, out = sys.argv[1:5]
    users = int(sys.argv[5]) if len(sys.argv) > 5 else 40
    labelers = int(sys.argv[6]) if len(sys.argv) > 6 else 6
    lines = []
    for role, n in (("user", users), ("labeler", labelers)):
        for i in range(n):
            name = f"load{role}{i}"
            password = f"Load-{secrets.token_hex(6)}-Katydid!"
            call(session(), base, "sign_up", username=name, display_name=f"Load {role} {i}",
                 email=f"{name}@example.org", password=password, password_again=password)
            lines.append(f"{name} {password} {role}")
    admin = session()
    call(admin, base, "sign_in", username="admin", password=admin_password)
    page = call(admin, base, "users", search="loadlabeler", page=0)
    for row in page["users"]:
        call(admin, base, "set_user_role", id=row["id"], role="labeler")
    made = sum(1 for row in page["users"])
    assert made == labelers, f"expected {labelers} labelers, the admin found {made}"
    # Photos in the queue before the labelers start.
    person = session()
    first = lines[0].split()
    call(person, base, "sign_in", username=first[0], password=first[1])
    photos = sorted(pathlib.Path(photo_dir).glob("*.jpg"))[:20]
    for photo in photos:
        identify(person, base, photo)
    pathlib.Path(out).write_text("\n".join(lines) + "\n")
    print(f"{users} users, {labelers} labelers, {len(photos)} identifications to label")


if __name__ == "__main__":
    main()
