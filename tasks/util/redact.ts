/** Returns the connection URL with its password replaced by `****`, for printing. Non-URLs are returned unchanged. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '****';
    // An unencoded "/", "?" or "#" in a password ends the host part early: pieces of the password then show up as the
    // host, path, query or fragment, so none of them is printed.
    if (/@/.test(parsed.pathname + parsed.search + parsed.hash)) return `${parsed.protocol}//${parsed.username ? `${parsed.username}:****@` : ''}****`;
    return parsed.toString();
  } catch {
    // Up to the last "@": an unencoded password may contain "@" itself.
    return url.replace(/(\/\/[^:/@]*:).*@/, '$1****@');
  }
}
