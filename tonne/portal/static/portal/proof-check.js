// Checks a ledger entry's inclusion proof in the reader's browser, with no
// help from the server beyond the files it publishes: the proof bundle and the
// verifier key. The same steps as `tonne ledger proof verify`:
//   1. the entry's text hashes to the leaf (SHA-256 of 0x00 || text),
//   2. the checkpoint note carries a valid Ed25519 signature by the key,
//   3. the RFC 9162 inclusion proof leads from the leaf to the signed root.
// Plain JavaScript and the browser's own WebCrypto; nothing is loaded from elsewhere.
"use strict";

(function () {
  const SIG_PREFIX = "\u2014 ";
  const enc = new TextEncoder();

  class ProofError extends Error {
    constructor(code, message) {
      super(message);
      this.code = code;
    }
  }

  function b64(text) {
    const raw = atob(text);
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }

  function hex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function fromHex(text) {
    if (!/^([0-9a-f]{2})*$/.test(text)) throw new ProofError("PROOF_MALFORMED", "a hash is not hexadecimal");
    const out = new Uint8Array(text.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(i * 2, 2), 16);
    return out;
  }

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  function same(a, b) {
    return a.length === b.length && a.every((v, i) => v === b[i]);
  }

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }

  const node = (left, right) => sha256(concat(Uint8Array.of(1), left, right));

  // RFC 9162 section 2.1.3.2. Sizes stay below 2^53: halving is done with
  // arithmetic, not with 32-bit bit operators.
  async function rootFromInclusion(leaf, index, size, proof) {
    if (index >= size) return null;
    let fn = index;
    let sn = size - 1;
    let r = leaf;
    for (const p of proof) {
      if (sn === 0) return null;
      if (fn % 2 === 1 || fn === sn) {
        r = await node(p, r);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) {
            fn = Math.floor(fn / 2);
            sn = Math.floor(sn / 2);
          }
        }
      } else {
        r = await node(r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 ? r : null;
  }

  // A verifier key: <name>+<key id, 8 hex digits>+<base64 of 0x01 || Ed25519 public key>.
  async function parseKey(text) {
    const parts = text.trim().split("+");
    if (parts.length < 3) throw new ProofError("KEY_MALFORMED", "the verifier key is not name+id+key");
    const name = parts[0];
    const id = parts[1];
    const raw = b64(parts.slice(2).join("+"));
    if (raw.length !== 33 || raw[0] !== 1) throw new ProofError("KEY_MALFORMED", "the verifier key is not an Ed25519 key");
    const expected = (await sha256(concat(enc.encode(name + "\n"), raw))).slice(0, 4);
    if (hex(expected) !== id) throw new ProofError("KEY_MALFORMED", "the key id does not match the key");
    const key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
    return { name, id: expected, key };
  }

  async function checkNote(note, verifier) {
    const split = note.lastIndexOf("\n\n");
    if (split < 0) throw new ProofError("CHECKPOINT_MALFORMED", "the checkpoint has no signatures");
    const body = note.slice(0, split + 1);
    const lines = note.slice(split + 2).split("\n").filter((l) => l);
    for (const line of lines) {
      if (!line.startsWith(SIG_PREFIX)) continue;
      const [name, sig] = line.slice(SIG_PREFIX.length).split(" ");
      if (name !== verifier.name || !sig) continue;
      const raw = b64(sig);
      if (!same(raw.slice(0, 4), verifier.id)) continue;
      const ok = await crypto.subtle.verify({ name: "Ed25519" }, verifier.key, raw.slice(4), enc.encode(body));
      if (!ok) throw new ProofError("SIGNATURE_INVALID", "the checkpoint's signature does not verify");
      const [origin, size, root] = body.slice(0, -1).split("\n");
      if (!/^(0|[1-9][0-9]*)$/.test(size)) throw new ProofError("CHECKPOINT_MALFORMED", "the tree size is not a number");
      return { origin, size: Number(size), root: b64(root) };
    }
    throw new ProofError("SIGNATURE_MISSING", "the checkpoint is not signed by this registry's key");
  }

  async function verify(bundle, keyText) {
    if (bundle.format !== "tonne-inclusion-proof/1") throw new ProofError("PROOF_MALFORMED", "unknown proof format");
    const verifier = await parseKey(keyText);
    const redacted = bundle.entry_redacted === true;
    const leaf = redacted ? fromHex(bundle.leaf_hash) : await sha256(concat(Uint8Array.of(0), enc.encode(bundle.entry)));
    if (hex(leaf) !== bundle.leaf_hash) throw new ProofError("ENTRY_HASH_MISMATCH", "the entry does not hash to its leaf");
    if (JSON.parse(bundle.entry).seq !== bundle.seq) throw new ProofError("ENTRY_INDEX_MISMATCH", "the entry's number differs");
    const checkpoint = await checkNote(bundle.checkpoint, verifier);
    if (checkpoint.size !== bundle.tree_size) throw new ProofError("TREE_SIZE_MISMATCH", "the proof is for another tree size");
    const root = await rootFromInclusion(leaf, bundle.seq, checkpoint.size, bundle.proof.map(fromHex));
    if (root === null || !same(root, checkpoint.root)) {
      throw new ProofError("INCLUSION_PROOF_INVALID", "the entry is not in the tree the checkpoint signs");
    }
    return { seq: bundle.seq, size: checkpoint.size, origin: checkpoint.origin, key: verifier.name + "+" + hex(verifier.id),
             contentProved: !redacted };
  }

  function say(box, state, text) {
    box.dataset.state = state;
    box.querySelector("[data-result]").textContent = text;
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, k) => String(values[k] ?? ""));
  }

  async function run(box) {
    box.hidden = false;
    if (!window.crypto || !crypto.subtle) {
      say(box, "unsupported", box.dataset.msgUnsupported);
      return;
    }
    say(box, "checking", box.dataset.msgChecking);
    try {
      const [bundle, key] = await Promise.all([
        fetch(box.dataset.proofUrl).then((r) => (r.ok ? r.json() : Promise.reject(new ProofError("PROOF_UNAVAILABLE", String(r.status))))),
        fetch(box.dataset.keyUrl).then((r) => (r.ok ? r.text() : Promise.reject(new ProofError("KEY_UNAVAILABLE", String(r.status))))),
      ]);
      const proved = await verify(bundle, key);
      say(box, "verified", fill(box.dataset.msgVerified, proved));
    } catch (err) {
      if (err instanceof DOMException && err.name === "NotSupportedError") {
        say(box, "unsupported", box.dataset.msgUnsupported);
        return;
      }
      const code = err instanceof ProofError ? err.code : "PROOF_MALFORMED";
      say(box, "failed", fill(box.dataset.msgFailed, { code, reason: err.message }));
    }
  }

  window.tonneProof = { verify, rootFromInclusion };
  document.querySelectorAll("[data-browser-proof]").forEach((box) => {
    run(box);
    const again = box.querySelector("button");
    if (again) again.addEventListener("click", () => run(box));
  });
})();
