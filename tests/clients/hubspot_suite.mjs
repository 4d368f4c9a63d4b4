// @hubspot/api-client against the sandbox: forms list with paging, and the v1 form
// submissions feed paged by `after` (the client wraps no v1 forms API, so through apiRequest).
// Usage: node hubspot_suite.mjs <sandbox-url> <access-token> <form-guid>
// Prints one JSON object of observations; exits non-zero on the first failed assertion.
import assert from 'node:assert/strict';
import hubspot from '@hubspot/api-client';

const [url, token, formGuid] = process.argv.slice(2);
const client = new hubspot.Client({ accessToken: token, basePath: url });
const out = {};

try {
  const formIds = [];
  const pages = [];
  let after;
  do {
    const page = await client.marketing.forms.formsApi.getPage(after, 2);
    pages.push(page.results.length);
    formIds.push(...page.results.map((f) => f.id));
    after = page.paging && page.paging.next ? page.paging.next.after : undefined;
  } while (after);
  out.forms = { pages, ids: formIds };

  const conversions = [];
  const subPages = [];
  let cursor;
  do {
    const qs = { limit: 20 };
    if (cursor) qs.after = cursor;
    const resp = await client.apiRequest({ method: 'GET',
      path: `/form-integrations/v1/submissions/forms/${formGuid}`, qs });
    assert.equal(resp.status, 200);
    const body = await resp.json();
    subPages.push(body.results.length);
    conversions.push(...body.results.map((r) => r.conversionId));
    cursor = body.paging && body.paging.next ? body.paging.next.after : undefined;
  } while (cursor);
  out.submissions = { pages: subPages, conversions };
  console.log(JSON.stringify(out));
} catch (err) {
  console.error(err && err.stack ? err.stack : err);
  console.log(JSON.stringify({ failed: true, message: String(err && err.message), out }));
  process.exit(1);
}
