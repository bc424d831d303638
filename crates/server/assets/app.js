// leadgen dashboard script: upload preview and import, live progress over
// Server-Sent Events. Text from the server is only ever set as textContent.
(function () {
  "use strict";
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const $ = (id) => document.getElementById(id);

  function setProgress(key, fraction) {
    document.querySelectorAll('[data-progress="' + key + '"]').forEach(function (el) {
      const pct = Math.round(Math.max(0, Math.min(1, fraction)) * 100);
      el.setAttribute("aria-valuenow", String(pct));
      el.firstElementChild.style.width = pct + "%";
    });
  }

  function showError(msg) {
    const e = $("upload-error");
    if (e) { e.textContent = msg; e.hidden = false; }
  }

  async function errorText(resp) {
    try { const j = await resp.json(); return j.error ? j.error.message : resp.statusText; }
    catch (_) { return resp.statusText; }
  }

  // ---- live counters
  // The stream is closed when the page is left: a browser speaking HTTP/1.1
  // keeps six connections per host, and a page kept for "back" (the
  // back-forward cache) would otherwise hold its stream open, so the
  // seventh request waited (about a minute in the browser test) for one.
  // Every stream the page opened is kept in `window.leadgenStreams`, so a
  // test can see which are still open.
  function openLiveCounters() {
    const es = new EventSource("/events");
    (window.leadgenStreams = window.leadgenStreams || []).push(es);
    window.addEventListener("pagehide", function () { es.close(); }, { once: true });
    es.addEventListener("progress", function (ev) {
      const d = JSON.parse(ev.data);
      (d.runs || []).forEach(function (r) {
        setProgress("run-" + r.id, r.progress);
        const row = document.querySelector('[data-run="' + r.id + '"]');
        if (row) {
          const st = row.querySelector('[data-field="status"]');
          if (st) st.textContent = r.status;
          const c = row.querySelector('[data-field="counts"]');
          if (c) c.textContent = r.completed_jobs + " done, " + r.failed_jobs + " failed / " + r.total_jobs;
        }
      });
      Object.keys(d.jobs || {}).forEach(function (s) {
        const el = document.querySelector('[data-stat="jobs-' + s + '"]');
        if (el) el.textContent = String(d.jobs[s]);
      });
      (d.imports || []).forEach(function (imp) {
        if (window.leadgenImport && !imp.done && imp.total_bytes > 0) {
          setProgress("import", imp.bytes_read / imp.total_bytes);
          const t = $("progress-text");
          if (t) t.textContent = imp.rows_read + " rows read";
        }
      });
    });
  }
  if (window.EventSource && csrf()) {
    openLiveCounters();
    // A page shown again from the back-forward cache reopens its stream.
    window.addEventListener("pageshow", function (ev) { if (ev.persisted) openLiveCounters(); });
  }

  // ---- campaign builder: the segment's count and best leads as one types
  const segment = $("segment");
  if (segment) {
    let timer = null;
    let asked = 0;
    const cell = function (tr, text) {
      const td = document.createElement("td");
      td.textContent = text == null ? "" : String(text);
      tr.appendChild(td);
    };
    async function previewSegment() {
      const text = segment.value.trim();
      const count = $("segment-count");
      const err = $("segment-error");
      const tbody = $("segment-sample").querySelector("tbody");
      if (!text) { count.textContent = "—"; err.hidden = true; tbody.replaceChildren(); return; }
      const mine = ++asked;
      const resp = await fetch("/api/v1/segments/preview?sample=10&where=" + encodeURIComponent(text));
      if (mine !== asked) return; // a newer request is on its way
      if (!resp.ok) {
        count.textContent = "—";
        err.textContent = await errorText(resp);
        err.hidden = false;
        tbody.replaceChildren();
        return;
      }
      const d = await resp.json();
      err.hidden = true;
      count.textContent = String(d.count);
      tbody.replaceChildren();
      (d.sample || []).forEach(function (l) {
        const tr = document.createElement("tr");
        cell(tr, [l.first_name, l.last_name].filter(Boolean).join(" "));
        cell(tr, l.email);
        cell(tr, l.company_name);
        cell(tr, l.industry);
        cell(tr, l.state);
        cell(tr, l.score);
        tbody.appendChild(tr);
      });
    }
    segment.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(previewSegment, 300);
    });
    if (segment.value.trim()) previewSegment();
  }

  // ---- upload
  const fileInput = $("file");
  if (!fileInput) return;
  let chosen = null;

  async function preview(file) {
    chosen = file;
    $("upload-error").hidden = true;
    const resp = await fetch("/upload/preview?name=" + encodeURIComponent(file.name), {
      method: "POST", body: file, headers: { "X-CSRF-Token": csrf(), "Content-Type": "text/csv" },
    });
    if (!resp.ok) { showError(await errorText(resp)); return; }
    const d = await resp.json();
    const tbody = $("mapping").querySelector("tbody");
    tbody.replaceChildren();
    d.columns.forEach(function (c, i) {
      const tr = document.createElement("tr");
      const values = d.rows.map(function (r) { return r[i] || ""; }).filter(Boolean).slice(0, 3).join(", ");
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = c.header;
      tr.appendChild(th);
      // The suggested field, changeable: a choice other than the suggestion
      // is sent as a mapping override.
      const td = document.createElement("td");
      const sel = document.createElement("select");
      sel.setAttribute("aria-label", "Field for column " + c.header);
      sel.dataset.header = c.header;
      sel.dataset.suggested = c.field || "";
      const none = document.createElement("option");
      none.value = "";
      none.textContent = c.custom ? "(custom field)" : "(ignored)";
      sel.appendChild(none);
      (d.fields || []).forEach(function (f) {
        const o = document.createElement("option");
        o.value = f;
        o.textContent = f;
        if (f === c.field) o.selected = true;
        sel.appendChild(o);
      });
      td.appendChild(sel);
      tr.appendChild(td);
      const vals = document.createElement("td");
      vals.className = "muted";
      vals.textContent = values;
      tr.appendChild(vals);
      tbody.appendChild(tr);
    });
    $("preset").textContent = d.preset ? "Recognised format: " + d.preset : "Columns mapped from their headers.";
    $("preview").hidden = false;
  }

  fileInput.addEventListener("change", function () { if (fileInput.files[0]) preview(fileInput.files[0]); });
  const drop = $("drop");
  ["dragenter", "dragover"].forEach(function (t) {
    drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (t) {
    drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.remove("over"); });
  });
  drop.addEventListener("drop", function (e) { if (e.dataTransfer.files[0]) preview(e.dataTransfer.files[0]); });

  $("import").addEventListener("click", async function () {
    if (!chosen) return;
    window.leadgenImport = true;
    $("import").disabled = true;
    $("progress-box").hidden = false;
    setProgress("import", 0);
    const overrides = [];
    document.querySelectorAll("#mapping select").forEach(function (sel) {
      if (sel.value && sel.value !== sel.dataset.suggested) overrides.push(sel.value + "=" + sel.dataset.header);
    });
    let url = "/api/v1/imports?name=" + encodeURIComponent(chosen.name);
    if (overrides.length) url += "&map=" + encodeURIComponent(overrides.join(","));
    const resp = await fetch(url, {
      method: "POST", body: chosen, headers: { "X-CSRF-Token": csrf(), "Content-Type": "text/csv" },
    });
    window.leadgenImport = false;
    if (!resp.ok) { showError(await errorText(resp)); $("import").disabled = false; return; }
    const s = await resp.json();
    setProgress("import", 1);
    $("progress-text").textContent = "Done in " + s.elapsed_ms + " ms";
    const dl = $("result-list");
    dl.replaceChildren();
    [["Rows read", s.rows_read], ["New leads", s.inserted], ["Merged", s.merged], ["Rejected", s.rejected]].forEach(function (kv) {
      const dt = document.createElement("dt"); dt.textContent = kv[0];
      const dd = document.createElement("dd"); dd.textContent = String(kv[1]);
      dd.dataset.result = kv[0].toLowerCase().replace(" ", "_");
      dl.appendChild(dt); dl.appendChild(dd);
    });
    $("result").hidden = false;
  });
})();
