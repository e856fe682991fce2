"""Drives the hosted sign-in and consent page of /oauth/authorize in headless Chromium
(Debian's chromium and chromium-driver, through Selenium's WebDriver), against
`cargo lambda watch`. A small third-party app, a local HTTP server, starts each
authorization with PKCE, receives the callback and exchanges the code at /oauth/token.

Usage: signin_browser.py BASE_URL   (run by infra/local/smoke.sh; `make browser` installs Chromium)
"""

import base64
import hashlib
import hmac
import http.server
import secrets
import shutil
import struct
import sys
import threading
import time
import urllib.parse

import http_client
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

BASE = sys.argv[1].rstrip("/")
PASSWORD = "a browser's long password"
WAIT_SECONDS = 20
results = {"passed": 0, "failed": 0}


def check(name, condition, detail=""):
    results["passed" if condition else "failed"] += 1
    print(f"{'ok  ' if condition else 'FAIL'} browser: {name}" + ("" if condition else f"  ({detail})"))
    return condition


def request(method, path, token=None, body=None, form=None, headers=None):
    return http_client.call(BASE, method, path, token, body, headers, form)


def register(label):
    """A new organization whose owner signs in with `PASSWORD`: (email, access token)."""
    email = f"{label}-{secrets.token_hex(6)}@browser.doorstep.dev"
    body = {"email": email, "password": PASSWORD, "first_name": "Brow", "last_name": "Ser",
            "organization_name": f"{label} Lettings"}
    status, doc, _ = request("POST", "/api/v1/identity/register", body=body)
    if status != 201:
        raise SystemExit(f"register {label}: {status} {doc}")
    return email, doc["data"]["access_token"]


def totp(secret_base32, step):
    """RFC 6238: SHA-1, 6 digits, 30-second steps."""
    key = base64.b32decode(secret_base32 + "=" * (-len(secret_base32) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


class ThirdPartyApp:
    """The app: registered with a callback on a local server; it exchanges codes for tokens."""

    def __init__(self, owner_token):
        self.callbacks = []
        self.verifiers = {}
        app = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                pages = {"/callback": app.callback, "/framed": app.framed, "/hello": lambda _: "<h1 id=hello>hello</h1>",
                         "/forged": app.forged}
                page = pages.get(url.path)
                body = (page(query) if page else "not found").encode()
                self.send_response(200 if page else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.redirect_uri = f"{self.origin}/callback"
        body = {"name": "Rent Reminder Pro", "description": "Reminds renters before rent is due",
                "redirect_uris": [self.redirect_uri], "scopes": ["read:properties", "read:maintenance"]}
        status, doc, _ = request("POST", "/api/v1/identity/oauth/apps", owner_token, body)
        if status != 201:
            raise SystemExit(f"register the app: {status} {doc}")
        self.client_id, self.client_secret = doc["data"]["client_id"], doc["data"]["client_secret"]

    def authorize_url(self, scope):
        """A fresh authorization request with its own state and PKCE verifier."""
        state, verifier = secrets.token_urlsafe(12), secrets.token_urlsafe(48)
        self.verifiers[state] = verifier
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = {"client_id": self.client_id, "redirect_uri": self.redirect_uri, "response_type": "code",
                 "scope": scope, "state": state, "code_challenge": challenge, "code_challenge_method": "S256"}
        return f"{BASE}/oauth/authorize?{urllib.parse.urlencode(query)}"

    def callback(self, query):
        outcome = {"query": query, "tokens": None}
        verifier = self.verifiers.pop(query.get("state", ""), None)
        if "code" in query and verifier:
            form = {"grant_type": "authorization_code", "code": query["code"], "redirect_uri": self.redirect_uri,
                    "code_verifier": verifier}
            basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            status, doc, _ = request("POST", "/oauth/token", form=form, headers={"Authorization": f"Basic {basic}"})
            outcome["tokens"] = doc if status == 200 else None
        self.callbacks.append(outcome)
        said = "signed in" if outcome["tokens"] else f"not signed in: {query.get('error', 'no tokens')}"
        return f"<h1 id=result>{said}</h1>"

    def framed(self, query):
        return (f"<h1>An app that frames the page</h1><iframe id=control src='{self.origin}/hello'></iframe>"
                f"<iframe id=victim src='{query['src']}'></iframe>")

    def forged(self, query):
        """A page that posts the consent form with a guessed CSRF token: no script needed."""
        fields = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(query["authorize"]).query))
        fields.update({"step": "consent", "consent": "approve", "csrf": "forged-token"})
        inputs = "".join(f"<input type=hidden name='{k}' value='{v}'>" for k, v in fields.items())
        return f"<form method=post action='{BASE}/oauth/authorize'>{inputs}<button id=go>Win a prize</button></form>"


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=412,915"):
        options.add_argument(flag)
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(service=service, options=options)


def wait_for(driver, condition, what):
    try:
        return WebDriverWait(driver, WAIT_SECONDS).until(condition)
    except Exception as error:  # noqa: BLE001 - report what the page showed instead
        raise AssertionError(f"waited for {what}; page {driver.current_url}: {driver.page_source[:400]}") from error


def heading(driver):
    return driver.find_element(By.TAG_NAME, "h1").text


def sign_in(driver, url, email):
    driver.get(url)
    wait_for(driver, lambda d: d.find_elements(By.ID, "email"), "the sign-in form")
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def back_at_app(driver, app):
    wait_for(driver, lambda d: d.current_url.startswith(app.redirect_uri), "the app's callback")
    return app.callbacks[-1]


def forget_sessions(driver):
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})


def approve_case(driver, app, email):
    sign_in(driver, app.authorize_url("read:properties"), email)
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "button[value=approve]"), "the consent screen")
    text = driver.find_element(By.TAG_NAME, "main").text
    check("the consent screen names the app, its description and the scope in words",
          all(s in text for s in ("Rent Reminder Pro", "Reminds renters before rent is due", "View properties and units")),
          text)
    driver.find_element(By.CSS_SELECTOR, "button[value=approve]").click()
    outcome = back_at_app(driver, app)
    tokens = outcome["tokens"] or {}
    check("sign in and approve -> the callback gets a code the app exchanges for tokens",
          tokens.get("token_type") == "Bearer" and tokens.get("scope") == "read:properties", outcome)
    status, _, _ = request("GET", "/api/ai/properties", tokens.get("access_token", "none"))
    check("the app's access token reads the user's properties", status == 200, status)


def skip_and_deny_cases(driver, app):
    driver.get(app.authorize_url("read:properties"))
    outcome = back_at_app(driver, app)
    check("an earlier consent covering the scopes skips the consent screen",
          outcome["tokens"] is not None and "code" in outcome["query"], outcome)
    driver.get(app.authorize_url("read:properties read:maintenance"))
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "button[value=deny]"), "the consent screen")
    sent_state = urllib.parse.parse_qs(urllib.parse.urlsplit(driver.current_url).query)["state"][0]
    driver.find_element(By.CSS_SELECTOR, "button[value=deny]").click()
    outcome = back_at_app(driver, app)
    query = outcome["query"]
    check("Deny -> the app gets error=access_denied and its state, no code",
          query.get("error") == "access_denied" and query.get("state") == sent_state and "code" not in query, query)


def forged_csrf_case(driver, app):
    # The browser is signed in (the cookie is sent, same site); only the token is wrong.
    callbacks = len(app.callbacks)
    authorize = app.authorize_url("read:properties read:maintenance")
    driver.get(f"{app.origin}/forged?{urllib.parse.urlencode({'authorize': authorize})}")
    driver.find_element(By.ID, "go").click()
    wait_for(driver, lambda d: d.current_url.startswith(f"{BASE}/oauth/authorize"), "the answer to the forged form")
    text = driver.find_element(By.TAG_NAME, "main").text
    check("a forged CSRF token is refused: no consent, no code", "did not come from this page" in text
          and len(app.callbacks) == callbacks, text)


def mfa_case(driver, app, email):
    forget_sessions(driver)
    sign_in(driver, app.authorize_url("read:properties"), email)
    wait_for(driver, lambda d: d.find_elements(By.ID, "code"), "the authenticator code step")
    label = driver.find_element(By.CSS_SELECTOR, "label[for=code]").text
    driver.find_element(By.ID, "code").send_keys(totp(mfa_secret, int(time.time()) // 30 + 1))
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "button[value=approve]"), "the consent screen")
    driver.find_element(By.CSS_SELECTOR, "button[value=approve]").click()
    outcome = back_at_app(driver, app)
    check("an MFA user signs in with a TOTP code and the app gets tokens",
          label == "Authentication code" and outcome["tokens"] is not None, outcome)


def framing_case(driver, app):
    url = app.authorize_url("read:properties")
    _, _, headers = request("GET", url, headers={"Accept": "text/html"})
    policy = headers.get("Content-Security-Policy", "")
    check("the page forbids framing and caching (X-Frame-Options, frame-ancestors, no-store)",
          headers.get("X-Frame-Options") == "DENY" and "frame-ancestors 'none'" in policy
          and headers.get("Cache-Control") == "no-store" and "script-src" not in policy, dict(headers))
    forget_sessions(driver)
    driver.get(f"{app.origin}/framed?{urllib.parse.urlencode({'src': url})}")
    wait_for(driver, lambda d: d.execute_script("return document.readyState") == "complete", "the framing page")
    driver.switch_to.frame(driver.find_element(By.ID, "control"))
    control = wait_for(driver, lambda d: d.find_elements(By.ID, "hello"), "the control frame")
    driver.switch_to.default_content()
    driver.switch_to.frame(driver.find_element(By.ID, "victim"))
    framed = driver.find_elements(By.ID, "email") + driver.find_elements(By.TAG_NAME, "form")
    driver.switch_to.default_content()
    check("a framing page's iframe of the sign-in page stays blank (a control frame renders)",
          bool(control) and not framed, f"control={bool(control)} framed={len(framed)}")


def accessible_form_case(driver, app):
    forget_sessions(driver)
    driver.get(app.authorize_url("read:properties"))
    wait_for(driver, lambda d: d.find_elements(By.ID, "email"), "the sign-in form")
    labelled = all(driver.find_elements(By.CSS_SELECTOR, f"label[for={f}]") for f in ("email", "password"))
    lang = driver.find_element(By.TAG_NAME, "html").get_attribute("lang")
    focused = driver.switch_to.active_element.get_attribute("id")
    fits = driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    check("the sign-in form is labelled, focused on the email, and fits a phone's width",
          labelled and lang == "en" and focused == "email" and fits and heading(driver) == "Sign in",
          f"labelled={labelled} lang={lang} focused={focused} fits={fits}")


developer_email, developer_token = register("developer")
user_email, _ = register("user")
mfa_email, mfa_token = register("mfa")
status, doc, _ = request("POST", "/api/v1/identity/mfa/setup", mfa_token, {"password": PASSWORD})
mfa_secret = doc["data"]["secret"]
status, doc, _ = request("POST", "/api/v1/identity/mfa/verify", mfa_token, {"code": totp(mfa_secret, int(time.time()) // 30)})
if status != 200:
    raise SystemExit(f"confirm MFA: {status} {doc}")
third_party = ThirdPartyApp(developer_token)

started = time.monotonic()
driver = browser()
try:
    for case in (lambda: accessible_form_case(driver, third_party),
                 lambda: approve_case(driver, third_party, user_email),
                 lambda: skip_and_deny_cases(driver, third_party),
                 lambda: forged_csrf_case(driver, third_party),
                 lambda: mfa_case(driver, third_party, mfa_email),
                 lambda: framing_case(driver, third_party)):
        try:
            case()
        except AssertionError as error:
            check("a step of the browser flow", False, error)
finally:
    driver.quit()
    third_party.server.shutdown()

print(f"browser: {results['passed']} passed, {results['failed']} failed in {time.monotonic() - started:.1f}s")
sys.exit(1 if results["failed"] else 0)
