"""Identity (userinfo, the id URL, the versioned root), Organization, and query columns=true."""

from __future__ import annotations

import pytest
import requests
from simple_salesforce import Salesforce

from connector.sandbox import soql
from connector.sandbox.sf_store import SfError
from connector.adapters.transport import session_for


def _get(sandbox, path: str, **params):
    return requests.get(f"{sandbox.url}{path}", params=params,
                        headers={"Authorization": f"Bearer {sandbox.token}"})


def test_userinfo_names_the_api_user_and_the_org(sandbox):
    resp = _get(sandbox, "/services/oauth2/userinfo")
    assert resp.status_code == 200
    info = resp.json()
    store = sandbox.app.salesforce.store
    user = sandbox.app.salesforce.get("User", store.api_user_id)
    assert info["user_id"] == store.api_user_id
    assert info["organization_id"].startswith("00D") and len(info["organization_id"]) == 18
    assert info["preferred_username"] == user["Username"]
    assert info["email"] == user["Email"]
    assert info["given_name"] == user["FirstName"] and info["family_name"] == user["LastName"]
    assert info["sub"] == f"{sandbox.url}/id/{info['organization_id']}/{info['user_id']}"
    assert info["urls"]["rest"] == f"{sandbox.url}/services/data/v{{version}}/"
    assert info["user_type"] == "STANDARD" and info["active"] is True
    versioned = _get(sandbox, "/services/oauth2/userinfo", version="59.0").json()
    assert versioned["urls"]["query"] == f"{sandbox.url}/services/data/v59.0/query/"
    posted = requests.post(f"{sandbox.url}/services/oauth2/userinfo",
                           headers={"Authorization": f"Bearer {sandbox.token}"})
    assert posted.status_code == 200 and posted.json()["user_id"] == info["user_id"]


def test_userinfo_needs_the_token(sandbox):
    resp = requests.get(f"{sandbox.url}/services/oauth2/userinfo",
                        headers={"Authorization": "Bearer wrong"})
    assert resp.status_code == 401


def test_the_id_url_from_the_token_reply_answers(sandbox):
    token = requests.post(f"{sandbox.url}/services/oauth2/token",
                          data={"grant_type": "client_credentials", "client_id": "ck",
                                "client_secret": "cs"}).json()
    ident = requests.get(token["id"], headers={"Authorization": f"Bearer {token['access_token']}"})
    assert ident.status_code == 200
    body = ident.json()
    org_id, user_id = token["id"].rsplit("/", 2)[-2:]
    assert body["id"] == token["id"]
    assert (body["organization_id"], body["user_id"]) == (org_id, user_id)
    assert body["username"] == "integration@leadsync.sandbox"
    assert body["asserted_user"] is True
    assert body["urls"]["partner"].endswith(f"/services/Soap/u/{{version}}/{org_id}")
    other = sandbox.app.salesforce.add_user("Other", email="o@x.example")
    assert _get(sandbox, f"/id/{org_id}/{other}").json()["asserted_user"] is False
    assert _get(sandbox, f"/id/{org_id}/005000000000000AAA").status_code == 404
    assert _get(sandbox, f"/id/00D000000000000AAA/{user_id}").status_code == 404


def test_versioned_root_lists_identity_and_only_what_is_answered(sandbox):
    root = _get(sandbox, "/services/data/v59.0/").json()
    assert root["identity"] == sandbox.app.salesforce.identity.identity_url()
    assert root["identity"].startswith(sandbox.url + "/id/00D")
    assert "search" not in root and "recent" not in root
    for name, path in root.items():
        if name != "identity":
            assert _get(sandbox, path + "/").status_code != 404, name


@pytest.fixture
def sf_client(sandbox) -> Salesforce:
    return Salesforce(instance_url=sandbox.url, session_id=sandbox.token,
                      session=session_for(sandbox.url), version="59.0")


def test_simple_salesforce_is_sandbox_reads_organization(sf_client):
    assert sf_client.is_sandbox() is True


def test_organization_query_where_count_describe_and_get(sandbox, sf_client):
    rows = sf_client.query("SELECT Name, InstanceName, IsSandbox, TrialExpirationDate, "
                           "NamespacePrefix, OrganizationType FROM Organization")["records"]
    assert len(rows) == 1
    org = rows[0]
    assert org["attributes"]["type"] == "Organization"
    assert org["IsSandbox"] is True and org["OrganizationType"] == "Developer Edition"
    assert org["TrialExpirationDate"] is None and org["NamespacePrefix"] is None
    org_id = org["attributes"]["url"].rsplit("/", 1)[-1]
    assert org_id == sandbox.app.salesforce.identity.org_id
    assert sf_client.query("SELECT Id FROM Organization WHERE IsSandbox = false")["totalSize"] == 0
    assert sf_client.query("SELECT COUNT() FROM Organization")["totalSize"] == 1
    describe = sf_client.Organization.describe()
    assert describe["name"] == "Organization" and describe["keyPrefix"] == "00D"
    assert describe["createable"] is False
    assert {"IsSandbox", "InstanceName", "OrganizationType"} <= {f["name"] for f in describe["fields"]}
    assert any(o["name"] == "Organization" for o in sf_client.describe()["sobjects"])
    got = sf_client.Organization.get(org_id)
    assert got["Id"] == org_id and got["Name"] == "Leadsync Sandbox"
    bad = _get(sandbox, "/services/data/v59.0/query/", q="SELECT Nope FROM Organization")
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALID_FIELD"


def test_columns_true_describes_the_selected_columns_without_running_the_query(sandbox):
    sandbox.app.salesforce.insert("Lead", {"LastName": "A", "Company": "Acme"})
    resp = _get(sandbox, "/services/data/v59.0/query/",
                q="SELECT Id, email, IsConverted, NumberOfEmployees, Leadsync_Response_Id__c "
                  "FROM Lead WHERE LastName = 'A'", columns="true")
    assert resp.status_code == 200
    body = resp.json()
    assert "records" not in body and body["entityName"] == "Lead"
    cols = {c["columnName"]: c for c in body["columnMetadata"]}
    assert list(cols) == ["Id", "Email", "IsConverted", "NumberOfEmployees",
                          "Leadsync_Response_Id__c"]       # SELECT order, schema spelling
    assert cols["Id"]["apexType"] == "Id" and cols["Id"]["insertable"] is False
    assert cols["Email"]["textType"] is True and cols["Email"]["updatable"] is True
    assert cols["IsConverted"]["booleanType"] is True
    assert cols["NumberOfEmployees"]["numberType"] is True
    assert cols["Leadsync_Response_Id__c"]["custom"] is True
    for col in cols.values():
        assert col["aggregate"] is False and col["joinColumns"] == []
        assert col["displayName"] == col["columnName"] and col["foreignKeyName"] is None
    counted = _get(sandbox, "/services/data/v59.0/query/", q="SELECT COUNT() FROM Lead",
                   columns="true").json()
    assert counted["columnMetadata"] == []
    assert _get(sandbox, "/services/data/v59.0/queryAll/", q="SELECT Name FROM Organization",
                columns="true").json()["entityName"] == "Organization"
    unknown = _get(sandbox, "/services/data/v59.0/query/", q="SELECT Nope FROM Lead",
                   columns="true")
    assert unknown.status_code == 400 and unknown.json()[0]["errorCode"] == "INVALID_FIELD"
    no_type = _get(sandbox, "/services/data/v59.0/query/", q="SELECT Id FROM Nope",
                   columns="true")
    assert no_type.status_code == 400 and no_type.json()[0]["errorCode"] == "INVALID_TYPE"


def test_columns_for_a_relationship_path_nest_join_columns(sandbox):
    """``Owner.Name`` as @salesforce/plugin-data's queryWithJoin fixture shows it."""
    front = sandbox.app.salesforce.front
    lead = sandbox.app.salesforce.store.schema("Lead")
    query = soql.Query(sobject="Lead", fields=("Name", "owner.name", "CreatedBy.Email"),
                       count=False, where=None, order_by=(), limit=None, offset=None)
    cols = front.columns(query, lead)["columnMetadata"]
    assert [c["columnName"] for c in cols] == ["Name", "Owner", "CreatedBy"]
    owner = cols[1]
    assert owner["foreignKeyName"] == "OwnerId" and owner["apexType"] is None
    assert [j["columnName"] for j in owner["joinColumns"]] == ["Name"]
    assert owner["joinColumns"][0]["textType"] is True
    assert cols[2]["joinColumns"][0]["columnName"] == "Email"
    bad = soql.Query(sobject="Lead", fields=("Nobody.Name",), count=False, where=None,
                     order_by=(), limit=None, offset=None)
    with pytest.raises(SfError) as err:
        front.columns(bad, lead)
    assert err.value.code == "INVALID_FIELD"
