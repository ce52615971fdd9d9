package io.gaprune.api;

import io.gaprune.ops.OperatorAccess;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Who may ask the operator API anything, decided from a request's headers alone (docs/security.md):
 * <ul>
 *   <li>{@code Host} names this API: a loopback name, an IP literal, {@code gaprune.http.hostname} or one of
 *       {@code gaprune.http.allowed-hosts}. A browser tricked by DNS rebinding sends the attacker's name, so it
 *       is refused; an IP literal cannot be rebound.
 *   <li>No browser request from another origin: an {@code Origin} header other than this API's own, or
 *       {@code Sec-Fetch-Site: cross-site / same-site}, is refused (the API has no web page; a web page open on
 *       an operator's machine must not drive it).
 *   <li>The bearer token ({@code Authorization: Bearer TOKEN}, RFC 6750 §2.1), compared in constant time.
 * </ul>
 */
final class RequestGuard {
  /**
   * {@code Bearer}, one or more spaces, a b64token, nothing else. The scheme matches in any case: RFC 7235 §2.1
   * makes auth-schemes case-insensitive, the token is the secret (docs/operator-api.md, "Token").
   */
  private static final Pattern BEARER = Pattern.compile("(?i:bearer) +([A-Za-z0-9\\-._~+/]+=*)");
  private static final Pattern SCHEME = Pattern.compile("([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: .*)?");
  private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");
  static final String CHALLENGE = "Bearer realm=\"gaprune\"";

  private final Set<String> names = new HashSet<>();
  private final String token;

  RequestGuard(String hostname, List<String> allowedHosts, String token) {
    this.token = token;
    names.add("localhost");
    String h = normal(hostname);
    if (!h.isEmpty() && !isWildcard(h)) {
      names.add(h);
    }
    allowedHosts.forEach(a -> names.add(normal(a)));
  }

  /** A refused request: status, message, and for a 401 the challenge to send. */
  static final class Refused extends ApiException {
    final String challenge;

    Refused(int status, String message, String challenge) {
      super(status, message);
      this.challenge = challenge;
    }
  }

  /** The {@code Host} header (one, naming this API). */
  void host(List<String> hosts) {
    if (hosts.isEmpty()) {
      throw new Refused(400, "missing Host header", null);
    }
    if (hosts.size() > 1) {
      throw new Refused(400, "more than one Host header", null);
    }
    String host = hostOf(hosts.get(0));
    if (!allowedHost(host)) {
      throw new Refused(403, "Host \"" + printable(host) + "\" is not a name of this API: use a loopback name, an IP"
          + " address, gaprune.http.hostname, or add the name to gaprune.http.allowed-hosts", null);
    }
  }

  /** No cross-origin browser request: {@code Origin} must be this API's own origin when a browser sends one. */
  void sameOrigin(List<String> origins, List<String> fetchSites, String scheme, String hostHeader) {
    for (String site : fetchSites) {
      String s = site.strip().toLowerCase(Locale.ROOT);
      if (s.equals("cross-site") || s.equals("same-site")) {
        throw new Refused(403, "cross-origin browser request refused (Sec-Fetch-Site: " + printable(s) + ")", null);
      }
    }
    if (origins.isEmpty()) {
      return;
    }
    String own = scheme + "://" + hostHeader.strip().toLowerCase(Locale.ROOT);
    for (String origin : origins) {
      String o = origin.strip().toLowerCase(Locale.ROOT);
      if (!o.equals(own) && !o.equals(withDefaultPort(own, scheme)) && !withDefaultPort(o, scheme).equals(own)) {
        throw new Refused(403, "cross-origin request refused (Origin: " + printable(origin.strip()) + ")", null);
      }
    }
  }

  /** The bearer token: present once, well formed, equal to this API's. */
  void authorize(List<String> authorizations) {
    if (authorizations.isEmpty()) {
      throw new Refused(401, "missing Authorization: Bearer token (every endpoint but /health needs it; see"
          + " docs/operator-api.md)", CHALLENGE);
    }
    if (authorizations.size() > 1) {
      throw new Refused(401, "more than one Authorization header", CHALLENGE + ", error=\"invalid_request\"");
    }
    String header = authorizations.get(0).strip();
    Matcher m = BEARER.matcher(header);
    if (!m.matches()) {
      Matcher scheme = SCHEME.matcher(header);
      boolean bearer = scheme.matches() && scheme.group(1).equalsIgnoreCase("bearer");
      throw new Refused(401, bearer ? "malformed Bearer credentials: \"Bearer\", a space, then the token (letters,"
          + " digits, - . _ ~ + /) and nothing else" : "only the Bearer scheme is accepted (Authorization: Bearer"
          + " TOKEN)", CHALLENGE + (bearer ? ", error=\"invalid_request\"" : ""));
    }
    if (!OperatorAccess.matches(token, m.group(1))) {
      throw new Refused(401, "wrong token", CHALLENGE + ", error=\"invalid_token\"");
    }
  }

  boolean allowedHost(String host) {
    if (host.isEmpty()) {
      return false;
    }
    if (names.contains(host)) {
      return true;
    }
    // An IP literal is what the client dialled, never a name an attacker's DNS could rebind.
    String literal = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    if (IPV4.matcher(literal).matches()) {
      for (String octet : literal.split("\\.")) {
        if (Integer.parseInt(octet) > 255) {
          return false;
        }
      }
      return true;
    }
    if (literal.contains(":") && literal.matches("[0-9a-f:.]+")) {
      try {
        // a string with ':' is parsed as an IPv6 literal, never looked up
        return InetAddress.getByName(literal) != null;
      } catch (UnknownHostException e) {
        return false;
      }
    }
    return false;
  }

  /** The host part of a Host header value, lower case, without the port and a trailing dot. */
  static String hostOf(String header) {
    String h = header.strip().toLowerCase(Locale.ROOT);
    if (h.startsWith("[")) {
      int end = h.indexOf(']');
      return end < 0 ? h : h.substring(0, end + 1);
    }
    int colon = h.lastIndexOf(':');
    if (colon >= 0 && h.indexOf(':') == colon) {
      h = h.substring(0, colon);
    }
    return normal(h);
  }

  private static String normal(String h) {
    String n = h.strip().toLowerCase(Locale.ROOT);
    if (n.endsWith(".")) {
      n = n.substring(0, n.length() - 1);
    }
    if (n.contains(":") && !n.startsWith("[")) {
      n = "[" + n + "]";
    }
    return n;
  }

  private static boolean isWildcard(String h) {
    return h.equals("0.0.0.0") || h.equals("[::]") || h.equals("[0:0:0:0:0:0:0:0]");
  }

  private static String withDefaultPort(String origin, String scheme) {
    try {
      URI u = URI.create(origin);
      if (u.getPort() >= 0) {
        return origin;
      }
      return origin + (scheme.equals("https") ? ":443" : ":80");
    } catch (IllegalArgumentException e) {
      return origin;
    }
  }

  /** A header value as it may appear in a message: printable ASCII, at most 100 characters. */
  static String printable(String s) {
    String p = s.replaceAll("[^\\x20-\\x7e]", "?");
    return p.length() > 100 ? p.substring(0, 100) + "..." : p;
  }
}
