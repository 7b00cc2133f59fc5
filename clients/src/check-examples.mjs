// Every example in the committed OpenAPI document validates against the schema beside it:
// the recorded 2xx responses (openapi/response-examples.json, real answers of the service),
// the problem examples of each error status and the request body examples. JSON Schema
// 2020-12, as OpenAPI 3.1 says; unknown properties fail where the schema closes them.
//
// Usage: node src/check-examples.mjs   (TECHX_SPEC=path overrides the document)
import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

const addFormats = addFormatsModule.default ?? addFormatsModule;
const spec = JSON.parse(readFileSync(process.env.TECHX_SPEC ?? new URL("../../openapi/openapi.json", import.meta.url)));
const SPEC_ID = "https://techx.invalid/openapi.json";

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
for (const f of ["int32", "int64", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "double", "float"]) {
  ajv.addFormat(f, { type: "number", validate: () => true });
}
ajv.addSchema({ ...spec, $id: SPEC_ID });

const pointer = (parts) => parts.map((p) => String(p).replaceAll("~", "~0").replaceAll("/", "~1")).join("/");
const failures = [];
const counts = { recorded: 0, responses: 0, requests: 0 };
const recordedOps = new Set();

function check(where, parts, media) {
  if (!media?.schema) return 0;
  const examples = Object.entries(media.examples ?? {}).map(([name, e]) => [name, e.value]);
  if ("example" in media) examples.push(["example", media.example]);
  if (!examples.length) return 0;
  const validate = ajv.compile({ $ref: `${SPEC_ID}#/${pointer([...parts, "schema"])}` });
  for (const [name, value] of examples) {
    if (!validate(value)) {
      const errors = validate.errors.slice(0, 5).map((e) => `${e.instancePath || "/"} ${e.message}`);
      failures.push(`${where} example "${name}": ${errors.join("; ")}`);
    }
  }
  return examples.length;
}

for (const [path, item] of Object.entries(spec.paths)) {
  for (const method of ["get", "post", "put", "patch", "delete"]) {
    const operation = item[method];
    if (!operation) continue;
    const label = `${method.toUpperCase()} ${path}`;
    for (const [type, media] of Object.entries(operation.requestBody?.content ?? {})) {
      counts.requests += check(`${label} request ${type}`, ["paths", path, method, "requestBody", "content", type], media);
    }
    for (const [status, response] of Object.entries(operation.responses ?? {})) {
      for (const [type, media] of Object.entries(response.content ?? {})) {
        if (media.examples?.recorded) {
          counts.recorded += 1;
          recordedOps.add(operation.operationId);
        }
        counts.responses += check(`${label} ${status} ${type}`, ["paths", path, method, "responses", status, "content", type], media);
      }
    }
  }
}

const withBody = Object.values(spec.paths).flatMap((item) =>
  ["get", "post", "put", "patch", "delete"].map((m) => item[m]).filter(Boolean)
    .filter((op) => Object.entries(op.responses ?? {}).some(([s, r]) => s.startsWith("2") && r.content?.["application/json"]))
    .map((op) => op.operationId));
const without = withBody.filter((id) => !recordedOps.has(id));
console.log(`${counts.responses} response and ${counts.requests} request examples validated; ${counts.recorded} of ${withBody.length} operations with a JSON 2xx body show a recorded response`);
if (without.length) console.log(`no recorded response yet: ${without.join(", ")}`);
if (failures.length) {
  console.error(`${failures.length} examples do not match their schema:`);
  for (const f of failures.slice(0, 50)) console.error(`  ${f}`);
  process.exit(1);
}
// A check that could not fail is no check: the recorded examples must be there.
if (counts.recorded === 0) {
  console.error("no recorded response example in the document (openapi/response-examples.json)");
  process.exit(1);
}
