package io.gaprune.api;

import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Path segments and query parameters, percent-encoded the way URLs need (not the way HTML forms do). */
final class Paths {
  private Paths() {}

  /** One path segment: '+' stays a '+', a space becomes %20, '/' becomes %2F. */
  static String encode(String segment) {
    return URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20");
  }

  /**
   * The decoded segments of a raw (still encoded) path, so an encoded '/' inside an id does not split it.
   * A malformed escape is a 400.
   */
  static List<String> segments(String rawPath) {
    List<String> out = new ArrayList<>();
    for (String s : rawPath.split("/")) {
      if (!s.isEmpty()) {
        out.add(decode(s));
      }
    }
    return out;
  }

  static Map<String, String> query(String rawQuery) {
    Map<String, String> out = new HashMap<>();
    if (rawQuery != null) {
      for (String kv : rawQuery.split("&")) {
        int i = kv.indexOf('=');
        if (i > 0) {
          out.put(decode(kv.substring(0, i)), decode(kv.substring(i + 1)));
        } else if (!kv.isEmpty()) {
          out.put(decode(kv), "");
        }
      }
    }
    return out;
  }

  private static String decode(String s) {
    try {
      // URLDecoder is the form decoder: protect a literal '+' so it is not read as a space.
      return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw ApiException.badRequest("malformed percent-encoding in \"" + s + "\"");
    }
  }
}
