// jsforce 3.x against the sandbox, as an admin's script would use it.
// Usage: node jsforce_suite.mjs <sandbox-url> <access-token>
// Prints one JSON object of observations on the last line; exits non-zero on the first
// failed assertion. tests/test_sandbox_protocol_clients.py runs it and checks the summary.
import assert from 'node:assert/strict';
import jsforce from 'jsforce';

const [url, token] = process.argv.slice(2);
const version = '59.0';
const out = {};

async function step(name, fn) {
  try {
    out[name] = await fn();
  } catch (err) {
    console.error(`step ${name} failed:`, err && err.stack ? err.stack : err);
    console.log(JSON.stringify({ failed: name, message: String(err && err.message), out }));
    process.exit(1);
  }
}

// Login by password, twice: SOAP login() (jsforce posts to /services/Soap/u/<v>, with a
// chunked body), and the OAuth2 password grant (/services/oauth2/token).
await step('soapLogin', async () => {
  const conn = new jsforce.Connection({ loginUrl: url, version });
  const info = await conn.login('integration@leadsync.sandbox', 'password-and-token');
  assert.equal(conn.accessToken, token);
  assert.ok(conn.instanceUrl.startsWith(url), conn.instanceUrl);
  assert.ok(info.organizationId.startsWith('00D'));
  const ident = await conn.identity();
  assert.equal(ident.username, 'integration@leadsync.sandbox');
  return { userId: info.id, orgId: info.organizationId, instanceUrl: conn.instanceUrl };
});

await step('oauthLogin', async () => {
  const conn = new jsforce.Connection({
    oauth2: { loginUrl: url, clientId: 'ck', clientSecret: 'cs', redirectUri: `${url}/cb` },
    version,
  });
  const info = await conn.login('integration@leadsync.sandbox', 'password-and-token');
  assert.equal(conn.accessToken, token);
  assert.ok(info.organizationId.startsWith('00D'));
  return { userId: info.id };
});

const conn = new jsforce.Connection({ instanceUrl: url, accessToken: token, version });

await step('autoFetch', async () => {
  const result = await conn.query("SELECT Id, LastName FROM Lead WHERE LastName LIKE 'Seed%'",
    { autoFetch: true, maxFetch: 10000 });
  const ids = new Set(result.records.map((r) => r.Id));
  return { totalSize: result.totalSize, fetched: result.records.length, distinct: ids.size };
});

await step('describe', async () => {
  const d = await conn.sobject('Lead').describe();
  const names = d.fields.map((f) => f.name);
  assert.ok(names.includes('Email') && names.includes('Leadsync_Response_Id__c'));
  const global = await conn.describeGlobal();
  return { name: d.name, keyPrefix: d.keyPrefix, fields: names.length,
    hasOrganization: global.sobjects.some((o) => o.name === 'Organization') };
});

await step('collections', async () => {
  const created = await conn.sobject('Lead').create([
    { LastName: 'Coll A', Company: 'Acme', Email: 'coll.a@acme.example' },
    { LastName: 'Coll B', Company: 'Acme', Email: 'not-an-email' },
  ], { allOrNone: false });
  assert.equal(created.length, 2);
  assert.equal(created[0].success, true);
  assert.equal(created[1].success, false);
  const upserted = await conn.sobject('Lead').upsert([
    { LastName: 'Ups 1', Company: 'Acme', Leadsync_Response_Id__c: 'resp-1' },
    { LastName: 'Ups 2', Company: 'Acme', Leadsync_Response_Id__c: 'resp-2' },
  ], 'Leadsync_Response_Id__c');
  const again = await conn.sobject('Lead').upsert([
    { LastName: 'Ups 1 bis', Company: 'Acme', Leadsync_Response_Id__c: 'resp-1' },
  ], 'Leadsync_Response_Id__c');
  return {
    createdIds: created.filter((r) => r.success).map((r) => r.id),
    createError: created[1].errors[0].statusCode,
    upsertCreated: upserted.map((r) => r.created),
    againCreated: again.map((r) => r.created),
  };
});

await step('composite', async () => {
  const body = {
    allOrNone: true,
    compositeRequest: [
      { method: 'POST', url: `/services/data/v${version}/sobjects/Account`, referenceId: 'acct',
        body: { Name: 'Composite Co' } },
      { method: 'POST', url: `/services/data/v${version}/sobjects/Contact`, referenceId: 'ct',
        body: { LastName: 'Comp', AccountId: '@{acct.id}', Email: 'comp@acme.example' } },
      { method: 'GET', referenceId: 'q',
        url: `/services/data/v${version}/query/?q=SELECT+Id,AccountId+FROM+Contact+WHERE+Email='comp@acme.example'` },
    ],
  };
  const res = await conn.request({ method: 'POST', url: `/services/data/v${version}/composite`,
    body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
  const statuses = res.compositeResponse.map((r) => r.httpStatusCode);
  const accountId = res.compositeResponse[0].body.id;
  assert.equal(res.compositeResponse[2].body.records[0].AccountId, accountId);
  return { statuses };
});

await step('bulkLoad', async () => {
  conn.bulk2.pollInterval = 200;
  conn.bulk2.pollTimeout = 30000;
  const csv = 'LastName,Company,Email\nBulk One,Acme,bulk1@acme.example\n' +
    'Bulk Two,Acme,bulk2@acme.example\nBulk Bad,Acme,bad-email\n';
  const res = await conn.bulk2.loadAndWaitForResults({ object: 'Lead', operation: 'insert',
    input: csv, pollInterval: 200, pollTimeout: 30000 });
  return { ok: res.successfulResults.length, failed: res.failedResults.length,
    failedError: String(res.failedResults[0].sf__Error).split(':')[0] };
});

await step('bulkQuery', async () => {
  const stream = await conn.bulk2.query("SELECT Id, LastName, Email FROM Lead WHERE LastName LIKE 'Bulk%'",
    { pollInterval: 200, pollTimeout: 30000 });
  const records = await stream.toArray();
  return { count: records.length, names: records.map((r) => r.LastName).sort() };
});

console.log(JSON.stringify(out));
