// proxy-from-env ships no type declarations.
declare module 'proxy-from-env' {
  /** The proxy URL for `url` per *_PROXY and NO_PROXY in process.env, or ''. */
  export function getProxyForUrl(url: string | URL): string;
}
