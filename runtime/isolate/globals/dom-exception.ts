/**
 * Inside the isolate: WebIDL's DOMException. It extends Error so it has a stack and passes
 * `instanceof Error`, as in Node and Workers; `name` and `code` are prototype getters.
 */

// Legacy codes, in the order of the WebIDL table (index + 1 is the code).
const LEGACY = [
  "IndexSizeError", "DOMStringSizeError", "HierarchyRequestError", "WrongDocumentError",
  "InvalidCharacterError", "NoDataAllowedError", "NoModificationAllowedError", "NotFoundError",
  "NotSupportedError", "InUseAttributeError", "InvalidStateError", "SyntaxError",
  "InvalidModificationError", "NamespaceError", "InvalidAccessError", "ValidationError",
  "TypeMismatchError", "SecurityError", "NetworkError", "AbortError", "URLMismatchError",
  "QuotaExceededError", "TimeoutError", "InvalidNodeTypeError", "DataCloneError",
];
const CONSTANTS = [
  "INDEX_SIZE_ERR", "DOMSTRING_SIZE_ERR", "HIERARCHY_REQUEST_ERR", "WRONG_DOCUMENT_ERR",
  "INVALID_CHARACTER_ERR", "NO_DATA_ALLOWED_ERR", "NO_MODIFICATION_ALLOWED_ERR", "NOT_FOUND_ERR",
  "NOT_SUPPORTED_ERR", "INUSE_ATTRIBUTE_ERR", "INVALID_STATE_ERR", "SYNTAX_ERR",
  "INVALID_MODIFICATION_ERR", "NAMESPACE_ERR", "INVALID_ACCESS_ERR", "VALIDATION_ERR",
  "TYPE_MISMATCH_ERR", "SECURITY_ERR", "NETWORK_ERR", "ABORT_ERR", "URL_MISMATCH_ERR",
  "QUOTA_EXCEEDED_ERR", "TIMEOUT_ERR", "INVALID_NODE_TYPE_ERR", "DATA_CLONE_ERR",
];

export class DOMException extends Error {
  #name: string;

  constructor(message: unknown = "", options: unknown = "Error") {
    // `message` stays an own property (WebIDL, and Node, make it a prototype getter): a bare
    // V8 context builds the stack header from data properties only, and without it a
    // DOMException's stack would read "AbortError" instead of "AbortError: message".
    super(String(message));
    // The second argument is a name, or (newer WebIDL) { name, cause }.
    if (options !== null && typeof options === "object") {
      const { name, cause } = options as { name?: unknown; cause?: unknown };
      this.#name = name === undefined ? "Error" : String(name);
      if ("cause" in options) Object.defineProperty(this, "cause", { value: cause, writable: true, configurable: true });
    } else {
      this.#name = String(options);
    }
  }

  override get name(): string {
    return this.#name;
  }

  get code(): number {
    return LEGACY.indexOf(this.#name) + 1;
  }
}

Object.defineProperty(DOMException.prototype, Symbol.toStringTag, { value: "DOMException", configurable: true });
for (let i = 0; i < CONSTANTS.length; i++) {
  const descriptor = { value: i + 1, enumerable: true };
  Object.defineProperty(DOMException, CONSTANTS[i]!, descriptor);
  Object.defineProperty(DOMException.prototype, CONSTANTS[i]!, descriptor);
}
