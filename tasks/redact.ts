/** Returns the connection URL with its password replaced by `****`, for printing. Non-URLs are returned unchanged. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '****';
    return parsed.toString();
  } catch {
    return url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1****@');
  }
}
