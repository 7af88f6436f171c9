// REST for every annotated RPC that has no hand-written route (rest/handlers.ts keeps the seed's
// shapes): the request message is built from the path variables, the query string (GET, DELETE)
// or the body as the `google.api.http` rule says, and the response (or its `response_body` field)
// is written as the Aegis JSON: proto field names (snake_case), enums in the Aegis spellings
// (`LOW`, `auto`, `pending`), int64 as JSON numbers while they are safe integers, Timestamps as
// RFC 3339, absent optional values as `null`. A bare value where a message is expected sets the
// message's first field when that is a string (PolicyRef: `{"from": 3}`). A new RPC needs no REST
// code.
import {
  type DescEnum,
  type DescField,
  type DescMessage,
  fromJson,
  type JsonObject,
  type JsonValue,
  toJson,
} from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { AegisError } from "../../errors.js";
import type { RestRoute } from "./router.js";

/** Enums whose REST spelling is upper case (the seed's risk levels); the others are lower case. */
const UPPER_CASE_ENUMS = new Set(["aegis.v1.RiskLevel"]);

/** The REST spelling of an enum value; `null` for the zero value (UNSPECIFIED). */
export function enumToRest(e: DescEnum, value: number): string | null {
  if (value === 0) return null;
  const v = e.values.find((x) => x.number === value);
  if (v === undefined) return String(value);
  // localName is the value's name without the enum's shared prefix (LOW for RISK_LEVEL_LOW).
  const short = v.localName;
  return UPPER_CASE_ENUMS.has(e.typeName) ? short.toUpperCase() : short.toLowerCase();
}

/** The proto JSON name of an enum value from its REST spelling (any case) or its proto name. */
function enumFromRest(e: DescEnum, value: unknown, at: string): string | number {
  if (typeof value === "number") return value;
  if (typeof value !== "string") throw bad(`${at} must be one of ${restNames(e)}`);
  const upper = value.toUpperCase();
  const v = e.values.find((x) => x.name === upper || x.localName.toUpperCase() === upper);
  if (v === undefined || v.number === 0)
    throw bad(`${at} must be one of ${restNames(e)}, got ${JSON.stringify(value)}`);
  return v.name;
}

function restNames(e: DescEnum): string {
  return e.values
    .filter((v) => v.number !== 0)
    .map((v) => enumToRest(e, v.number))
    .join(", ");
}

function bad(message: string): AegisError {
  return new AegisError("invalid_argument", message);
}

const WKT_JSON = new Set(["google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"]);

/** A field's REST value (already JSON-shaped by `toJson` for the well-known types). */
function fieldToRest(field: DescField, value: unknown): JsonValue {
  switch (field.fieldKind) {
    case "scalar":
      return scalarToRest(value);
    case "enum":
      return enumToRest(field.enum, value as number);
    case "message":
      return messageValueToRest(field.message, value);
    case "list":
      return (value as unknown[]).map((v) =>
        field.listKind === "enum"
          ? enumToRest(field.enum, v as number)
          : field.listKind === "message"
            ? messageValueToRest(field.message, v)
            : scalarToRest(v),
      );
    case "map": {
      const out: JsonObject = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        out[k] =
          field.mapKind === "enum"
            ? enumToRest(field.enum, v as number)
            : field.mapKind === "message"
              ? messageValueToRest(field.message, v)
              : scalarToRest(v);
      }
      return out;
    }
  }
}

function scalarToRest(value: unknown): JsonValue {
  if (typeof value === "bigint")
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  return value as JsonValue;
}

function messageValueToRest(desc: DescMessage, value: unknown): JsonValue {
  if (value === undefined || value === null) return null;
  if (desc.typeName === "google.protobuf.Timestamp") {
    return timestampDate(value as Parameters<typeof timestampDate>[0]).toISOString();
  }
  // protobuf-es holds Struct fields as plain JSON objects already; Value and ListValue as messages.
  if (WKT_JSON.has(desc.typeName)) {
    return (
      desc.typeName === "google.protobuf.Struct" && !("$typeName" in (value as object))
        ? value
        : toJson(desc, value as never)
    ) as JsonValue;
  }
  return messageToRest(desc, value as Record<string, unknown>);
}

/** A message as the Aegis REST JSON. */
export function messageToRest(desc: DescMessage, msg: Record<string, unknown>): JsonObject {
  const out: JsonObject = {};
  for (const field of desc.fields) {
    let value: unknown;
    if (field.oneof !== undefined) {
      const o = msg[field.oneof.localName] as { case?: string; value?: unknown } | undefined;
      if (o?.case !== field.localName) continue;
      value = o.value;
    } else value = msg[field.localName];
    if (value === undefined || (field.fieldKind === "message" && value === null)) {
      out[field.name] = null;
      continue;
    }
    out[field.name] = fieldToRest(field, value);
  }
  return out;
}

/** REST JSON (Aegis spellings, snake_case or lowerCamel names) -> proto3 JSON for `fromJson`. */
function restToProtoJson(desc: DescMessage, json: unknown, at: string): JsonValue {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw bad(`${at || "the request body"} must be a JSON object`);
  }
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    const field = desc.fields.find((f) => f.name === key || f.jsonName === key);
    if (field === undefined) continue; // unknown fields are ignored, as everywhere in the API
    const path = at ? `${at}.${field.name}` : field.name;
    out[field.name] = fieldFromRest(field, value, path);
  }
  return out;
}

function fieldFromRest(field: DescField, value: unknown, path: string): JsonValue {
  if (value === null) return null;
  switch (field.fieldKind) {
    case "enum":
      return enumFromRest(field.enum, value, path);
    case "message": {
      if (field.message.typeName.startsWith("google.protobuf.")) return value as JsonValue;
      // A bare value for a message names its first field: `{"from": 3}` is `{"from": {"version": "3"}}`.
      const first = field.message.fields[0];
      if (
        (typeof value === "string" || typeof value === "number") &&
        first?.fieldKind === "scalar" &&
        first.scalar === 9
      ) {
        return { [first.name]: String(value) };
      }
      return restToProtoJson(field.message, value, path);
    }
    case "list":
      if (!Array.isArray(value)) throw bad(`${path} must be a JSON array`);
      return value.map((v, i) =>
        field.listKind === "enum"
          ? enumFromRest(field.enum, v, `${path}[${i}]`)
          : field.listKind === "message" && !field.message.typeName.startsWith("google.protobuf.")
            ? restToProtoJson(field.message, v, `${path}[${i}]`)
            : (v as JsonValue),
      );
    default:
      return value as JsonValue;
  }
}

/** A query-string value as the JSON value its field takes. */
function queryValue(field: DescField, raw: string, path: string): JsonValue {
  if (field.fieldKind === "enum") return enumFromRest(field.enum, raw, path);
  if (field.fieldKind === "scalar") {
    switch (field.scalar) {
      case 8 /* BOOL */:
        if (raw === "true" || raw === "1") return true;
        if (raw === "false" || raw === "0") return false;
        throw bad(`invalid ${path} ${JSON.stringify(raw)}: expected true or false`);
      case 9 /* STRING */:
      case 12 /* BYTES */:
        return raw;
      default:
        if (raw.trim() === "" || !Number.isFinite(Number(raw))) {
          throw bad(`invalid ${path} ${JSON.stringify(raw)}: expected a number`);
        }
        return raw; // proto3 JSON takes numbers as strings too, and keeps int64 exact that way
    }
  }
  if (field.fieldKind === "message" && field.message.typeName === "google.protobuf.Timestamp") return raw;
  throw bad(`${path} cannot be given in the query string`);
}

/** Builds the request message of `route` from path variables, query string and body. */
export function requestFromRest(
  route: RestRoute,
  params: Readonly<Record<string, string>>,
  query: URLSearchParams,
  body: unknown,
): unknown {
  const desc = route.method.input;
  let json: JsonObject = {};
  if (route.body === "*") json = restToProtoJson(desc, body ?? {}, "") as JsonObject;
  else if (route.body !== "") {
    const field = desc.fields.find((f) => f.name === route.body);
    if (field === undefined) throw new Error(`${route.method.name}: body field ${route.body} does not exist`);
    json[field.name] = fieldFromRest(field, body, field.name);
  } else {
    for (const [key, raw] of query) {
      if (raw === "") continue;
      const field = desc.fields.find((f) => f.name === key || f.jsonName === key);
      if (field === undefined) continue;
      json[field.name] = queryValue(field, raw, key);
    }
  }
  for (const [name, value] of Object.entries(params)) {
    const field = desc.fields.find((f) => f.name === name);
    if (field !== undefined)
      json[field.name] = field.fieldKind === "scalar" ? value : queryValue(field, value, name);
  }
  try {
    return fromJson(desc, json, { ignoreUnknownFields: true });
  } catch (err) {
    throw bad(err instanceof Error ? err.message.replace(/^cannot decode [^:]*: /, "") : String(err));
  }
}

/** The response (or its `response_body` field) as REST JSON text. */
export function responseToRest(route: RestRoute, msg: Record<string, unknown>): string {
  const desc = route.method.output;
  if (route.responseBody === "") return JSON.stringify(messageToRest(desc, msg));
  const field = desc.fields.find((f) => f.name === route.responseBody);
  if (field === undefined)
    throw new Error(`${route.method.name}: response_body ${route.responseBody} does not exist`);
  const value = msg[field.localName];
  return JSON.stringify(value === undefined ? null : fieldToRest(field, value));
}
