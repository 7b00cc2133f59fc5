// Every response a live techx gives on its GET operations parses against the committed
// OpenAPI document: its status is documented for the operation and its JSON body is valid
// against that status's schema (JSON Schema 2020-12, as OpenAPI 3.1 says). Run against a
// server holding the demo exchange, anonymously and as each account the seed printed, it
// proves that a client generated from the spec reads every response of the demo data, and
// that the spec's enums have not drifted from what the server sends.
//
// Usage: node src/check-responses.mjs BASE_URL [SEED_OUTPUT_FILE]
// SEED_OUTPUT_FILE is what `techx seed --demo` printed ("  email  password  role" lines).
import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

const addFormats = addFormatsModule.default ?? addFormatsModule;
const [baseUrl, seedOutput] = process.argv.slice(2);
if (!baseUrl) {
  console.error("usage: node src/check-responses.mjs BASE_URL [SEED_OUTPUT_FILE]");
  process.exit(2);
}
const spec = JSON.parse(readFileSync(process.env.TECHX_SPEC ?? new URL("../../openapi/openapi.json", import.meta.url)));
const SPEC_ID = "https://techx.invalid/openapi.json";

const ajv = new Ajv2020({ strict: false, allErrors: true, discriminator: true });
addFormats(ajv);
for (const f of ["int32", "int64", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "double", "float"]) {
  ajv.addFormat(f, { type: "number", validate: () => true });
}
ajv.addSchema({ ...spec, $id: SPEC_ID });

const validators = new Map();
function validatorFor(template, status) {
  const key = `${template} ${status}`;
  if (!validators.has(key)) {
    const pointer = ["paths", template, "get", "responses", status, "content"]
      .map((p) => p.replaceAll("~", "~0").replaceAll("/", "~1"))
      .join("/");
    const content = spec.paths[template].get.responses[status].content ?? {};
    const type = Object.keys(content).find((t) => t.includes("json") && !t.includes("ndjson"));
    validators.set(
      key,
      type
        ? ajv.compile({ $ref: `${SPEC_ID}#/${pointer}/${type.replaceAll("/", "~1")}/schema` })
        : null,
    );
  }
  return validators.get(key);
}

// Ids seen so far, by collection ("technologies", "organizations", …).
const pools = new Map();
function remember(collection, id) {
  if (typeof id !== "string") return;
  if (!pools.has(collection)) pools.set(collection, new Set());
  pools.get(collection).add(id);
}
const ID_FIELDS = {
  organization_id: "organizations", technology_id: "technologies", demand_id: "demands",
  inquiry_id: "inquiries", deal_id: "deals", webhook_id: "webhooks",
  buyer_organization_id: "organizations", seller_organization_id: "organizations",
};
function harvest(value) {
  if (Array.isArray(value)) return value.forEach(harvest);
  if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (ID_FIELDS[k]) remember(ID_FIELDS[k], v);
      harvest(v);
    }
  }
}

const failures = [];
let validated = 0;
const seenOk = new Set();

async function check(identity, template, path, token) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`${baseUrl}${path}`, { headers });
  const status = String(response.status);
  const documented = spec.paths[template].get.responses;
  const where = `${identity}: GET ${path} → ${status}`;
  if (!(status in documented)) {
    failures.push(`${where}: status not documented (${Object.keys(documented).join(", ")})`);
    return null;
  }
  const headerSpec = documented[status].headers ?? {};
  for (const name of Object.keys(headerSpec)) {
    if (name === "Link" && !response.headers.get("link")) failures.push(`${where}: no Link header`);
  }
  const type = response.headers.get("content-type") ?? "";
  if (!type.includes("json")) return null;
  const body = await response.json();
  const validate = validatorFor(template, status);
  if (validate && !validate(body)) {
    const errors = validate.errors.slice(0, 5).map((e) => `${e.instancePath || "/"} ${e.message}${e.params?.allowedValues ? ` ${JSON.stringify(e.params.allowedValues)}` : ""}`);
    failures.push(`${where}: ${errors.join("; ")}`);
  }
  validated += 1;
  if (response.ok) seenOk.add(template);
  return response.ok ? body : null;
}

const getTemplates = Object.keys(spec.paths).filter((p) => spec.paths[p].get && p !== "/metrics");
const PER_POOL = 4;

async function crawl(identity, token) {
  pools.clear();
  // Lists first (no path parameter), then each template filled from the ids seen.
  const byDepth = [...getTemplates].sort((a, b) => a.split("{").length - b.split("{").length);
  for (const template of byDepth) {
    for (const path of expand(template)) {
      const body = await check(identity, template, path, token);
      if (!body) continue;
      harvest(body);
      const collection = template.split("/").filter((s) => s && !s.startsWith("{")).at(-1);
      if (Array.isArray(body.items)) body.items.forEach((item) => remember(collection, item.id));
      if (template === "/api/v1/me") (body.memberships ?? []).forEach((m) => remember("organizations", m.organization_id ?? m.organization?.id));
    }
  }
}

// Concrete paths for a template: each `{param}` filled from the pool of the collection
// before it (at most PER_POOL ids each).
function expand(template) {
  const segments = template.split("/");
  let paths = [""];
  for (let i = 1; i < segments.length; i += 1) {
    const segment = segments[i];
    if (segment.startsWith("{")) {
      const ids = [...(pools.get(segments[i - 1]) ?? [])].slice(0, PER_POOL);
      paths = paths.flatMap((p) => ids.map((id) => `${p}/${id}`));
    } else {
      paths = paths.map((p) => `${p}/${segment}`);
    }
  }
  return paths;
}

async function login(email, password) {
  const response = await fetch(`${baseUrl}/api/v1/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  if (!response.ok) throw new Error(`login ${email}: ${response.status} ${await response.text()}`);
  return (await response.json()).access_token;
}

const identities = [["anonymous", null]];
if (seedOutput) {
  for (const line of readFileSync(seedOutput, "utf8").split("\n")) {
    const m = line.match(/^\s+(\S+@\S+)\s+(\S+)\s+(\S.*)$/);
    if (m) identities.push([`${m[1]} (${m[3].trim()})`, await login(m[1], m[2])]);
  }
  if (identities.length < 3) throw new Error(`no demo accounts read from ${seedOutput}`);
}
for (const [identity, token] of identities) await crawl(identity, token);

const missed = getTemplates.filter((t) => !seenOk.has(t));
console.log(`${validated} responses validated for ${identities.length} identities; ${seenOk.size} of ${getTemplates.length} GET operations answered 2xx`);
if (missed.length) console.log(`never answered 2xx: ${missed.join(", ")}`);
if (failures.length) {
  console.error(`${failures.length} responses do not match the spec:`);
  for (const f of failures.slice(0, 50)) console.error(`  ${f}`);
  process.exit(1);
}
// A check that could not fail is no check: the demo data must reach the main reads.
const required = ["/api/v1/technologies/{id}", "/api/v1/deals/{id}", "/api/v1/deals/{id}/events",
  "/api/v1/inquiries/{id}", "/api/v1/demands/{id}/matches", "/api/v1/valuation-requests/{id}"];
const unreached = seedOutput ? required.filter((t) => !seenOk.has(t)) : [];
if (unreached.length) {
  console.error(`the demo data did not reach: ${unreached.join(", ")}`);
  process.exit(1);
}
