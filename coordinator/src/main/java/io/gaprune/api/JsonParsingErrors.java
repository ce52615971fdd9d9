package io.gaprune.api;

import org.apache.pekko.event.LoggingAdapter;
import org.apache.pekko.http.ParsingErrorHandler;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.scaladsl.model.ErrorInfo;
import org.apache.pekko.http.scaladsl.model.StatusCode;
import org.apache.pekko.http.scaladsl.settings.ServerSettings;

/**
 * The answer to a request Pekko HTTP cannot parse into a request at all (a bad {@code Content-Length}, a broken
 * request line, a header too long, an unknown method, a bad percent escape): the API's JSON error, as for every
 * other refusal, instead of Pekko's plain-text page. Named by {@code pekko.http.server.parsing.error-handler}
 * ({@link HttpFront}); Pekko creates it by reflection.
 */
public final class JsonParsingErrors extends ParsingErrorHandler {
  public JsonParsingErrors() {}

  @Override
  public HttpResponse handle(StatusCode status, ErrorInfo info, LoggingAdapter log, ServerSettings settings) {
    String summary = info.summary().isEmpty() ? status.reason() : info.summary();
    String detail = info.detail();
    String message = "malformed request: " + summary + (detail.isEmpty() ? "" : ": " + detail);
    log.debug("refused an unparsable request: {}", message);
    return HttpResponse.create().withStatus(status.intValue())
        .withEntity(ContentTypes.APPLICATION_JSON, HttpFront.errorJson(RequestGuard.printable(message)));
  }
}
