"""/openapi/: the OpenAPI document as a readable page, with a "Send" form per operation.

Self-contained (no CDN, no JavaScript framework): operators' networks often have no internet
access. The page is rendered on the server from the same document /openapi/openapi.json
serves, so it cannot say anything the document does not.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, render_template_string, url_for

bp = Blueprint("openapi_page", __name__, url_prefix="/openapi")

BODY_METHODS = ("post", "patch", "put")


def _ref_name(schema: dict[str, Any]) -> str | None:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if len(schema.get("allOf", ())) == 1:
        return _ref_name(schema["allOf"][0])
    return None


def type_text(schema: dict[str, Any]) -> tuple[str, str | None]:
    """('string (ipv4)', None) or ('array of', 'HaNodesRecord'): text, and a schema to link."""
    ref = _ref_name(schema)
    if ref:
        return "", ref
    if schema.get("type") == "array":
        text, ref = type_text(schema.get("items", {}))
        return ("array of " + text).strip(), ref
    text = schema.get("type", "")
    formats = [s["format"] for s in schema.get("anyOf", ()) if "format" in s]
    if "format" in schema:
        text += f" ({schema['format']})"
    elif formats:
        text += f" ({formats[0]} or blank)"
    return text, None


def _rules(prop: dict[str, Any]) -> list[str]:
    rules = []
    if "enum" in prop:
        rules.append("one of: " + ", ".join(json.dumps(e) for e in prop["enum"]))
    if "pattern" in prop:
        rules.append(f"pattern {prop['pattern']}")
    if "default" in prop:
        rules.append(f"when left out: {json.dumps(prop['default'])}")
    if "x-effective-default" in prop:
        rules.append(f"effective default: {json.dumps(prop['x-effective-default'])}")
    if "example" in prop:
        rules.append(f"example: {json.dumps(prop['example'])}")
    if prop.get("x-immutable-after-commit"):
        rules.append("cannot change once committed")
    if "x-commit-effect" in prop:
        rules.append(f"commit: {prop['x-commit-effect']}")
    return rules


def _schema_view(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    required = set(schema.get("required", ()))
    rows = []
    for prop_name, prop in schema.get("properties", {}).items():
        text, ref = type_text(prop)
        access = "write-only" if prop.get("writeOnly") else "read-only" if prop.get("readOnly") else ""
        rows.append({"name": prop_name, "type": text, "ref": ref, "required": prop_name in required,
                     "access": access, "description": prop.get("description", ""),
                     "rules": _rules(prop)})
    return {"name": name, "description": schema.get("description", ""), "rows": rows}


def _example_body(spec: dict[str, Any], schema: dict[str, Any], method: str) -> str:
    """A starting body for the Send form: a new record's required keys, else nothing."""
    ref = _ref_name(schema)
    target = spec["components"]["schemas"].get(ref, {}) if ref else schema
    if method != "post":
        return "{}"
    body = {key: target["properties"][key].get("example", "")
            for key in target.get("required", ())}
    return json.dumps(body, indent=2)


def _operation_view(spec: dict[str, Any], path: str, method: str, op: dict[str, Any],
                    shared: list[dict[str, Any]]) -> dict[str, Any]:
    params = []
    for param in [*shared, *op.get("parameters", ())]:
        text, _ = type_text(param.get("schema", {}))
        params.append({**param, "type": text})
    body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    responses = []
    for code, response in op.get("responses", {}).items():
        if "$ref" in response:
            response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
        schema = response.get("content", {}).get("application/json", {}).get("schema", {})
        responses.append({"code": code, "description": response.get("description", ""),
                          "ref": _ref_name(schema) if schema else None})
    return {"method": method.upper(), "path": path, "summary": op.get("summary", ""),
            "description": op.get("description", ""), "params": params,
            "body_ref": _ref_name(body) if body else None,
            "example": _example_body(spec, body, method) if body else "",
            "has_body": method in BODY_METHODS, "responses": responses,
            "anchor": f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", "")}


def page_model(spec: dict[str, Any]) -> dict[str, Any]:
    """The document, grouped by tag (one per page of the manual), for the template."""
    tags = {tag["name"]: {**tag, "operations": []} for tag in spec.get("tags", ())}
    for path, item in spec["paths"].items():
        shared = item.get("parameters", [])
        for method, op in item.items():
            if method == "parameters":
                continue
            for tag in op.get("tags", ("other",)):
                tags.setdefault(tag, {"name": tag, "operations": []})
                tags[tag]["operations"].append(_operation_view(spec, path, method, op, shared))
    schemas = [_schema_view(name, schema)
               for name, schema in spec.get("components", {}).get("schemas", {}).items()]
    return {"info": spec["info"], "tags": [tag for tag in tags.values() if tag["operations"]],
            "schemas": schemas, "security": spec.get("components", {}).get("securitySchemes", {})}


@bp.get("/", endpoint="page")
def page():
    api = current_app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    return render_template_string(TEMPLATE, doc=page_model(api.spec.to_dict()),
                                  json_url=url_for("api-docs.openapi_json"))


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ doc.info.title }}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;display:flex}
nav{width:16rem;flex:none;height:100vh;overflow:auto;position:sticky;top:0;background:#f3f5f8;
 padding:1rem;box-sizing:border-box;font-size:14px}
nav ul{list-style:none;padding-left:.8rem;margin:.2rem 0 .6rem}
main{padding:1rem 2rem;max-width:72rem;min-width:0}
h2{border-bottom:2px solid #c9d1dc;padding-bottom:.2rem;margin-top:2.5rem}
section.op{border:1px solid #d7dde6;border-radius:6px;margin:1rem 0;padding:.4rem 1rem}
.m{font:bold 13px monospace;padding:2px 6px;border-radius:4px;color:#fff;background:#5a6b80}
.m-GET{background:#2a7ab0}.m-POST{background:#2f8a4e}.m-PATCH{background:#b07a12}
.m-DELETE{background:#b03a2e}
code,pre,textarea,input{font-family:ui-monospace,monospace;font-size:13px}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
td,th{border:1px solid #d7dde6;padding:3px 6px;vertical-align:top;text-align:left}
th{background:#f3f5f8} .rules{color:#4a5566;font-size:13px} .intro{white-space:pre-wrap}
form.try{background:#f8f9fb;padding:.5rem;border-radius:4px}
form.try label{display:block;margin:.2rem 0} textarea{width:100%;min-height:5rem}
output{display:block;white-space:pre-wrap;font-family:monospace;font-size:13px;max-height:24rem;
 overflow:auto;background:#1d2330;color:#e8ecf2;padding:.5rem;margin-top:.4rem}
output:empty{display:none}
</style></head><body>
<nav aria-label="Contents"><strong>{{ doc.info.title }}</strong>
<ul>{% for tag in doc.tags %}<li><a href="#tag-{{ tag.name }}">{{ tag.name }}</a></li>{% endfor %}
<li><a href="#schemas">Schemas</a></li></ul>
<a href="{{ json_url }}">openapi.json</a></nav>
<main>
<h1>{{ doc.info.title }} <small>{{ doc.info.version }}</small></h1>
<p class="intro">{{ doc.info.description }}</p>
<p>The OpenAPI 3 document: <a href="{{ json_url }}"><code>{{ json_url }}</code></a>.
Security: {% for name, scheme in doc.security.items() %}<code>{{ name }}</code> (HTTP {{ scheme.scheme }}: {{ scheme.description }}){% endfor %}.
The <em>Send</em> forms below call the API with the credentials this browser already uses.</p>
{% for tag in doc.tags %}
<h2 id="tag-{{ tag.name }}">{{ tag.name }}</h2>
{% if tag.description %}<p>{{ tag.description }}</p>{% endif %}
{% for op in tag.operations %}
<section class="op" id="{{ op.anchor }}">
<h3><span class="m m-{{ op.method }}">{{ op.method }}</span> <code>{{ op.path }}</code> {{ op.summary }}</h3>
{% if op.description %}<p>{{ op.description }}</p>{% endif %}
{% if op.params %}<table><tr><th>Parameter</th><th>In</th><th>Type</th><th>Description</th></tr>
{% for p in op.params %}<tr><td><code>{{ p.name }}</code>{% if p.required %} *{% endif %}</td><td>{{ p['in'] }}</td>
<td>{{ p.type }}</td><td>{{ p.description or '' }}</td></tr>{% endfor %}</table>{% endif %}
{% if op.body_ref %}<p>Body (JSON): <a href="#schema-{{ op.body_ref }}">{{ op.body_ref }}</a></p>{% endif %}
<table><tr><th>Answer</th><th>Meaning</th><th>Body</th></tr>
{% for r in op.responses %}<tr><td>{{ r.code }}</td><td>{{ r.description }}</td>
<td>{% if r.ref %}<a href="#schema-{{ r.ref }}">{{ r.ref }}</a>{% endif %}</td></tr>{% endfor %}</table>
<details><summary>Send</summary>
<form class="try" data-method="{{ op.method }}" data-path="{{ op.path }}">
{% for p in op.params %}<label>{{ p.name }} ({{ p['in'] }})
<input name="{{ p['in'] }}:{{ p.name }}" {% if p.required %}required{% endif %}></label>{% endfor %}
{% if op.has_body and op.body_ref %}<label>Body<textarea name="json-body">{{ op.example }}</textarea></label>{% endif %}
<button type="submit">Send {{ op.method }}</button><output></output>
</form></details>
</section>
{% endfor %}{% endfor %}
<h2 id="schemas">Schemas</h2>
{% for s in doc.schemas %}
<h3 id="schema-{{ s.name }}">{{ s.name }}</h3>
{% if s.description %}<p>{{ s.description }}</p>{% endif %}
{% if s.rows %}<table><tr><th>Field</th><th>Type</th><th>Description</th></tr>
{% for row in s.rows %}<tr id="schema-{{ s.name }}-{{ row.name }}"><td><code>{{ row.name }}</code>{% if row.required %} *{% endif %}
{% if row.access %}<br><small>{{ row.access }}</small>{% endif %}</td>
<td>{{ row.type }}{% if row.ref %} <a href="#schema-{{ row.ref }}">{{ row.ref }}</a>{% endif %}</td>
<td>{{ row.description }}{% if row.rules %}<div class="rules">{{ row.rules|join('; ') }}</div>{% endif %}</td></tr>{% endfor %}
</table>{% endif %}
{% endfor %}
<p>* required</p>
</main>
<script>
// Send: build the request from the form, call the API, show status, ETag and body.
for (const form of document.querySelectorAll("form.try")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let path = form.dataset.path;
    const query = new URLSearchParams();
    const headers = {};
    for (const field of form.elements) {
      if (!field.name || field.name === "json-body" || field.value === "") continue;
      const [where, name] = field.name.split(":");
      if (where === "path") path = path.replace("{" + name + "}", encodeURIComponent(field.value));
      else if (where === "query") query.append(name, field.value);
      else if (where === "header") headers[name] = field.value;
    }
    const init = {method: form.dataset.method, headers, credentials: "same-origin"};
    if (["POST", "PATCH", "PUT"].includes(init.method)) {
      headers["Content-Type"] = "application/json";
      const body = form.elements.namedItem("json-body");
      init.body = body ? body.value : "";
    }
    const output = form.querySelector("output");
    try {
      const response = await fetch(path + (query.size ? "?" + query : ""), init);
      let text = await response.text();
      try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
      const tag = response.headers.get("ETag");
      output.textContent = response.status + " " + response.statusText
        + (tag ? "   ETag: " + tag : "") + "\\n" + text;
    } catch (error) {
      output.textContent = String(error);
    }
  });
}
</script>
</body></html>
"""
