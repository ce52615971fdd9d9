package io.gaprune.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real MiniLM tokenizer (BERT word pieces, [CLS]=101, [SEP]=102). */
class TextTokenizerTest {

  @TempDir Path dir;

  @Test
  void padsRightWithMaskAndCountsTruncatedTexts() throws IOException {
    try (var tok = TestModels.tokenizer(KnownModel.MINILM, 8); var manager = NDManager.newBaseManager()) {
      var batch = tok.encode(List.of("benzene", "a long sentence that certainly has more than eight word pieces"),
          manager);
      assertEquals(new ai.djl.ndarray.types.Shape(2, 8), batch.inputIds().getShape());
      var ids = batch.inputIds().toLongArray();
      var mask = batch.attentionMask().toLongArray();
      assertEquals(101, ids[0]);
      assertEquals(0, mask[7]);
      assertEquals(1, mask[8 + 7]);
      assertEquals(102, ids[8 + 7], "truncation keeps the closing [SEP]");
      assertEquals(1, tok.truncatedCount());
      assertEquals(2, tok.encodedCount());
    }
  }

  @Test
  void padsLeftForDecoderFamilies() throws IOException {
    var json = TestModels.resource(KnownModel.MINILM.tokenizerResource);
    try (var tok = TextTokenizer.fromJson(json, "minilm", 128, TextTokenizer.PaddingSide.LEFT);
        var manager = NDManager.newBaseManager()) {
      var batch = tok.encode(List.of("benzene ring", "ethanol"), manager);
      var longest = tok.ids("benzene ring");
      var shortest = tok.ids("ethanol");
      int s = longest.length;
      var mask = batch.attentionMask().toLongArray();
      var ids = batch.inputIds().toLongArray();
      assertEquals(0, mask[s]);
      assertEquals(1, mask[2 * s - 1]);
      assertEquals(102, ids[2 * s - 1], "the last position holds each text's last token");
      assertArrayEquals(shortest, java.util.Arrays.copyOfRange(ids, 2 * s - shortest.length, 2 * s));
    }
  }

  @Test
  void instructionTemplateWrapsQueries() {
    assertEquals(List.of("Instruct: find\nQuery:benzene"),
        TextTokenizer.withInstruction(List.of("benzene"), "Instruct: find\nQuery:{q}"));
    assertEquals(List.of("benzene"), TextTokenizer.withInstruction(List.of("benzene"), ""));
    // Qwen3-Embedding's card: no space after "Query:"
    assertEquals("Instruct: find\nQuery:{q}", io.gaprune.model.qwen3.Qwen3Encoder.queryInstruction("find"));
    assertEquals(List.of("Represent this: benzene"),
        TextTokenizer.withInstruction(List.of("benzene"), "Represent this: {q}"));
  }

  /** A query that already carries an instruction (the reference's triplet files) gets no second one. */
  @Test
  void queriesThatCarryAnInstructionGetNoSecondOne() {
    var template = "Instruct: Given a chemistry question, retrieve the related context\nQuery:{q}";
    var carried = "Instruct: Given a chemical term, retrieve its definition\nQuery:tafluprost";
    var own = "Instruct: Given a chemistry question, retrieve the related context\nQuery:benzene";
    assertEquals(List.of(carried, own, "Instruct: Given a chemistry question, retrieve the related context\nQuery:"
        + "ethanol"), TextTokenizer.withInstruction(List.of(carried, own, "ethanol"), template));
    var bge = "Represent this sentence for searching relevant passages: {q}";
    assertEquals(List.of("Represent this sentence for searching relevant passages: benzene",
        "Represent this sentence for searching relevant passages: Instruct: x"),
        TextTokenizer.withInstruction(List.of("Represent this sentence for searching relevant passages: benzene",
            "Instruct: x"), bge));
  }

  @Test
  void missingOrCorruptTokenizerFileIsNamed() throws IOException {
    var missing = dir.resolve("tokenizer.json");
    var e = assertThrows(IOException.class,
        () -> TextTokenizer.fromFile(missing, 128, TextTokenizer.PaddingSide.RIGHT));
    assertEquals(missing + ": tokenizer file not found", e.getMessage());
    Files.writeString(missing, "{\"version\": \"1.0\", \"model\": ");
    e = assertThrows(IOException.class, () -> TextTokenizer.fromFile(missing, 128, TextTokenizer.PaddingSide.RIGHT));
    assertTrue(e.getMessage().startsWith(missing + ": not a valid tokenizer.json"), e.getMessage());
  }
}
