package io.gaprune.api;

/** A request that ends with an HTTP error: the status code and the message the JSON body carries. */
class ApiException extends RuntimeException {
  final int status;
  /** For 405: the methods the resource accepts (the Allow header). */
  final String allow;

  ApiException(int status, String message) {
    this(status, message, null);
  }

  private ApiException(int status, String message, String allow) {
    super(message);
    this.status = status;
    this.allow = allow;
  }

  static ApiException badRequest(String message) {
    return new ApiException(400, message);
  }

  static ApiException notFound(String message) {
    return new ApiException(404, message);
  }

  static ApiException methodNotAllowed(String method, String path, String allow) {
    return new ApiException(405, method + " is not allowed on " + path + "; use " + allow, allow);
  }

  static ApiException unavailable(String message) {
    return new ApiException(503, message);
  }
}
