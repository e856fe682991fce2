"""The SmartMove sandbox speaks to SmartMove's published PHP library unchanged.

The library (rentprep/smartmove-php 1.0.2) is a thin Guzzle client: every call is a POST
to /api/smartmove/<endpoint> with the headers `User-Agent: smartmove/php/1.0.2` and
`x-apiKey`, a JSON body built from the call's arguments (PHP's `compact()`, a list of
emails joined with commas), and it reads the answer as `json_decode(body) ?: status ==
200`. These tests send exactly those requests, call by call, and check each answer is
what the library hands back to its caller.
"""

from __future__ import annotations

import json
import threading
import unittest
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer
from typing import Any

import smartmove_sandbox as sandbox_module

API_KEY = "php-library-key"
CUSTOMER = "org_php_library"


class Library:
    """The wire form of the PHP library's calls."""

    def __init__(self, base_url: str, api_key: str = API_KEY) -> None:
        self.base_url = base_url
        self.api_key = api_key

    def post(self, path: str, params: dict[str, Any]) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.base_url + path,
            data=json.dumps(params).encode(),
            headers={"User-Agent": "smartmove/php/1.0.2", "x-apiKey": self.api_key, "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        decoded = json.loads(body) if body else None
        # json_decode($body, true) ?: $status == 200
        return status, decoded if decoded else status == 200

    # SmartMove::createApplication($data, $referenceId)
    def create_application(self, data: dict[str, Any]) -> tuple[int, Any]:
        data = {"Customer": {"referenceId": CUSTOMER}, **data}
        return self.post("/api/smartmove/application/create", data)

    # SmartMove::getApplications($referenceId)
    def get_applications(self) -> tuple[int, Any]:
        return self.post("/api/smartmove/application/all", {"referenceId": CUSTOMER})

    # SmartMove::getApplication($applicationId, $referenceId)
    def get_application(self, application_id: int) -> tuple[int, Any]:
        return self.post("/api/smartmove/application/details", {"applicationId": application_id, "referenceId": CUSTOMER})

    # SmartMove::addApplicant / removeApplicant($applicationId, $email, $referenceId)
    def applicants(self, endpoint: str, application_id: int, emails: list[str]) -> tuple[int, Any]:
        params = {"applicationId": application_id, "email": ",".join(emails), "referenceId": CUSTOMER}
        return self.post(f"/api/smartmove/applicant/{endpoint}", params)

    # SmartMove::cancelApplication / getReportUrl($applicationId, $referenceId)
    def by_id(self, endpoint: str, application_id: int) -> tuple[int, Any]:
        return self.post(f"/api/smartmove/application/{endpoint}", {"applicationId": application_id, "referenceId": CUSTOMER})


class PhpLibraryTest(unittest.TestCase):
    def setUp(self) -> None:
        # Progress is driven by hand here: no postbacks, no timers.
        self.sandbox = sandbox_module.Sandbox("", step_seconds=0)
        self.sandbox.start = lambda app_id: None  # type: ignore[method-assign]
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), sandbox_module.make_handler(self.sandbox, API_KEY))
        self.sandbox.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.library = Library(self.sandbox.base_url)

    def tearDown(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def place_link_order(self) -> int:
        status, link = self.library.create_application({
            "Application": {"Applicants": ["bart@example.com"]},
            "Property": {"Street": "742 Evergreen Terrace", "City": "Springfield", "State": "OR", "Zip": "97475",
                         "UnitNumber": "1", "PropertyName": "Evergreen"},
        })
        self.assertEqual(status, 200)
        self.assertIsInstance(link, str)
        self.assertIn("/smartmove/api/create/", link)
        with urllib.request.urlopen(link, timeout=10) as opened:
            return json.loads(opened.read())["ApplicationId"]

    def test_create_application_answers_the_link_the_library_returns(self) -> None:
        application_id = self.place_link_order()
        status, applications = self.library.get_applications()
        self.assertEqual(status, 200)
        self.assertEqual([a["ApplicationId"] for a in applications], [application_id])

    def test_get_application_answers_the_details_object(self) -> None:
        application_id = self.place_link_order()
        status, details = self.library.get_application(application_id)
        self.assertEqual(status, 200)
        self.assertEqual(details["ApplicationId"], application_id)
        self.assertEqual([a["EmailAddress"] for a in details["Applicants"]], ["bart@example.com"])
        self.assertEqual(details["Applicants"][0]["ApplicantStatus"], "NoActivity")

    def test_a_list_of_emails_is_added_and_removed_as_the_library_joins_it(self) -> None:
        application_id = self.place_link_order()
        status, added = self.library.applicants("add", application_id, ["lisa@example.com", "maggie@example.com"])
        self.assertEqual((status, added), (200, True))
        emails = [a["EmailAddress"] for a in self.library.get_application(application_id)[1]["Applicants"]]
        self.assertEqual(emails, ["bart@example.com", "lisa@example.com", "maggie@example.com"])
        status, removed = self.library.applicants("delete", application_id, ["lisa@example.com", "maggie@example.com"])
        self.assertEqual((status, removed), (200, True))
        emails = [a["EmailAddress"] for a in self.library.get_application(application_id)[1]["Applicants"]]
        self.assertEqual(emails, ["bart@example.com"])

    def test_cancel_answers_true_and_report_url_a_refusal_the_library_logs(self) -> None:
        application_id = self.place_link_order()
        status, refused = self.library.by_id("reportUrl", application_id)
        # A 400's {"Message": ...} is what the library's logErrors reads.
        self.assertEqual(status, 400)
        self.assertIn("Message", refused)
        self.assertEqual(self.library.by_id("cancel", application_id), (200, True))

    def test_a_wrong_api_key_is_refused(self) -> None:
        status, answer = Library(self.library.base_url, "not-the-key").get_applications()
        self.assertEqual(status, 401)
        self.assertIn("Message", answer)


if __name__ == "__main__":
    unittest.main()
