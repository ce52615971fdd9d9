package io.gaprune.session;

import com.google.protobuf.InvalidProtocolBufferException;
import io.gaprune.protocol.AccumulatorMeta;
import io.gaprune.protocol.LayerPartition;
import io.gaprune.protocol.ShardChunk;
import io.gaprune.protocol.Statistic;
import io.gaprune.protocol.TensorScalars;
import io.gaprune.protocol.TensorSpec;
import io.gaprune.protocol.UnitResult;
import io.gaprune.stats.InputSums;
import io.gaprune.stats.MergedStatistics;
import io.gaprune.stats.TensorStats;
import io.gaprune.stats.UnitStatistics;
import io.gaprune.worker.ShardCodec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.CRC32C;

/**
 * Durable statistics of one merger group ({@link MergerEntity}: its tensors as a one-partition layout) or of any
 * set of layer partitions: per unit a <em>staged</em> file (its shards, written as they stream in), per
 * partition an <em>accumulator</em> file (the sum of the units folded so far).
 *
 * <p>Both files have one layout: the arrays of the partition's tensors (for each tensor in partition order,
 * each statistic the session collects in stream order: Σg²_gen, [Σg_gen,] Σg²_dom[, Σg_dom][, Σx²_gen, Σx²_dom[,
 * Σxxᵀ_gen, Σxxᵀ_dom]], each of its own length, {@code ShardCodec.length}), little-endian,
 * float32 in a staged file (as the worker sent them) and float64 in an accumulator, then a protobuf trailer (the unit's
 * {@link UnitResult}, or the accumulator's {@link AccumulatorMeta} with the ids of the units it holds), the
 * trailer's length (8 bytes), a magic number and a CRC32C of everything before it. A file is written under a
 * temporary name, fsynced, and renamed atomically: a reader sees the old file or the new one, never a mix,
 * and data and applied-unit record change together. Any file whose CRC does not match is refused.
 *
 * <p>Units fold in id order within a partition (never in arrival order), so the float64 sums are the same
 * bits however many workers ran the session and in whatever order units finished.
 */
public final class AccumulatorStore {
  private static final int MAGIC = 0x47415031; // "GAP1"
  private static final int FOOTER = Long.BYTES + Integer.BYTES + Integer.BYTES;
  private static final int BLOCK = 1 << 20;
  /** Bytes of a staged value: float32, as shards travel. */
  private static final int VALUE = ShardCodec.VALUE_BYTES;

  private final Path dir;
  private final String sessionId;
  private final Map<Integer, LayerPartition> partitions = new LinkedHashMap<>();
  private final List<Statistic> statistics;

  /** @param statistics the statistics each unit carries, in stream order ({@code ShardCodec.statistics}) */
  public AccumulatorStore(Path sessionDir, String sessionId, List<LayerPartition> partitions,
      List<Statistic> statistics) {
    this.dir = sessionDir;
    this.sessionId = sessionId;
    this.statistics = List.copyOf(statistics);
    for (LayerPartition p : partitions) {
      this.partitions.put(p.getIndex(), p);
    }
    try {
      Files.createDirectories(dir.resolve("staged"));
      Files.createDirectories(dir.resolve("accumulators"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the session directory " + dir, e);
    }
  }

  public Path dir() {
    return dir;
  }

  public Path stagedPath(String unitId) {
    return dir.resolve("staged").resolve(unitId + ".shards");
  }

  public Path accumulatorPath(int partition) {
    return accumulatorPath(dir, partition);
  }

  /** Where the store in {@code dir} keeps a partition's accumulator (a reader checks it is there first). */
  static Path accumulatorPath(Path dir, int partition) {
    return dir.resolve("accumulators").resolve(String.format("partition-%03d.acc", partition));
  }

  public LayerPartition partition(int index) {
    LayerPartition p = partitions.get(index);
    if (p == null) {
      throw new IllegalArgumentException("no layer partition " + index);
    }
    return p;
  }

  /** Values of a partition's statistics (each is a float32 in a staged file, a float64 in an accumulator). */
  long values(LayerPartition p) {
    long n = 0;
    for (TensorSpec t : p.getTensorsList()) {
      for (Statistic s : statistics) {
        n += ShardCodec.length(t, s);
      }
    }
    return n;
  }

  // ---------------------------------------------------------------- staging

  /** Receives one unit's chunks in stream order and writes them to a temporary staged file. */
  public Staging openStaging(String unitId, int partition) {
    return new Staging(unitId, partition(partition));
  }

  public final class Staging implements AutoCloseable {
    private final String unitId;
    private final LayerPartition partition;
    private final Path tmp;
    private final FileChannel ch;
    private final CRC32C crc = new CRC32C();
    private int tensor;
    private int stat;
    private long offset;
    private long base;
    private long bytes;
    private long chunks;
    private boolean done;

    private Staging(String unitId, LayerPartition partition) {
      this.unitId = unitId;
      this.partition = partition;
      this.tmp = dir.resolve("staged").resolve(unitId + ".shards.tmp-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
      try {
        this.ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, StandardOpenOption.READ);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot create " + tmp, e);
      }
    }

    /** Writes one chunk; chunks must arrive in the order {@code ShardCodec.chunks} produces them. */
    public void write(ShardChunk c) throws IOException {
      if (tensor >= partition.getTensorsCount()) {
        throw new IllegalStateException("unit " + unitId + ": chunk after the last tensor (" + c.getTensor() + ")");
      }
      TensorSpec spec = partition.getTensors(tensor);
      Statistic expected = statistics.get(stat);
      long n = ShardCodec.length(spec, expected);
      int len = c.getValues().size();
      if (!c.getTensor().equals(spec.getName()) || c.getStatistic() != expected || c.getOffset() != offset
          || len % VALUE != 0 || len == 0 || offset + len / VALUE > n) {
        throw new IllegalStateException("unit " + unitId + ": unexpected chunk " + c.getTensor() + "/"
            + c.getStatistic() + "@" + c.getOffset() + " (" + len + " bytes); expected " + spec.getName() + "/"
            + expected + "@" + offset + " of " + n);
      }
      ByteBuffer buf = c.getValues().asReadOnlyByteBuffer();
      crc.update(buf.duplicate());
      long pos = base + offset * VALUE;
      while (buf.hasRemaining()) {
        pos += ch.write(buf, pos);
      }
      bytes += len;
      chunks++;
      offset += len / VALUE;
      if (offset == n) {
        base += n * VALUE;
        offset = 0;
        if (++stat == statistics.size()) {
          stat = 0;
          tensor++;
        }
      }
    }

    /** Checks completeness and checksum against the worker's summary, then makes the file durable. */
    public void commit(UnitResult meta) throws IOException {
      if (tensor != partition.getTensorsCount()) {
        throw new IllegalStateException("unit " + unitId + ": stream ended early, at tensor " + tensor + " of "
            + partition.getTensorsCount());
      }
      if ((int) crc.getValue() != meta.getCrc32C() || bytes != meta.getTotalBytes() || chunks != meta.getChunkCount()) {
        throw new IllegalStateException(String.format("unit %s: shards do not match the worker's summary "
            + "(crc32c %08x vs %08x, %d vs %d bytes, %d vs %d chunks)", unitId, (int) crc.getValue(),
            meta.getCrc32C(), bytes, meta.getTotalBytes(), chunks, meta.getChunkCount()));
      }
      checkMetas(meta.getTensorsList(), partition, unitId);
      UnitResult trailer = meta.toBuilder().clearSourceRef().clearTicket().clearWorkerRef().build();
      writeTrailer(ch, base, trailer.toByteArray());
      ch.force(true);
      ch.close();
      done = true;
      moveAtomically(tmp, stagedPath(unitId));
    }

    @Override
    public void close() {
      try {
        ch.close();
        if (!done) {
          Files.deleteIfExists(tmp);
        }
      } catch (IOException ignored) {
        // a leftover temporary file is harmless: never read, removed by the next clean-up
      }
    }
  }

  private static void checkMetas(List<TensorScalars> metas, LayerPartition p, String what) {
    if (metas.size() != p.getTensorsCount()) {
      throw new IllegalStateException(what + ": " + metas.size() + " tensors, partition " + p.getIndex() + " has "
          + p.getTensorsCount());
    }
    for (int i = 0; i < metas.size(); i++) {
      if (!metas.get(i).getName().equals(p.getTensors(i).getName())
          || !metas.get(i).getShapeList().equals(p.getTensors(i).getShapeList())) {
        throw new IllegalStateException(what + ": tensor " + i + " is " + metas.get(i).getName()
            + metas.get(i).getShapeList() + ", expected " + p.getTensors(i).getName() + p.getTensors(i).getShapeList());
      }
    }
  }

  /** The staged unit's summary if its file exists and is intact; null if absent. */
  public UnitResult readStaged(String unitId) {
    Path f = stagedPath(unitId);
    byte[] trailer = verify(f);
    if (trailer == null) {
      return null;
    }
    try {
      return UnitResult.parseFrom(trailer);
    } catch (InvalidProtocolBufferException e) {
      throw new CorruptFileException(f, "unreadable trailer: " + e.getMessage());
    }
  }

  // ---------------------------------------------------------------- accumulators

  /** The accumulator's record, or null if the partition has none yet. Throws if the file is corrupt. */
  public AccumulatorMeta readMeta(int partition) {
    Path f = accumulatorPath(partition);
    byte[] trailer = verify(f);
    if (trailer == null) {
      return null;
    }
    try {
      AccumulatorMeta m = AccumulatorMeta.parseFrom(trailer);
      if (m.getPartition() != partition || !m.getSessionId().equals(sessionId)) {
        throw new CorruptFileException(f, "holds partition " + m.getPartition() + " of session " + m.getSessionId()
            + ", expected partition " + partition + " of " + sessionId);
      }
      return m;
    } catch (InvalidProtocolBufferException e) {
      throw new CorruptFileException(f, "unreadable trailer: " + e.getMessage());
    }
  }

  public Set<String> applied(int partition) {
    AccumulatorMeta m = readMeta(partition);
    return m == null ? Set.of() : new LinkedHashSet<>(m.getAppliedUnitsList());
  }

  /**
   * Folds into partition {@code p}'s accumulator the staged units that come next in {@code order} (the
   * partition's unit ids in fold order), stopping at the first unit not staged yet. Each fold is one atomic
   * file replacement that records the unit as applied; a unit already recorded is skipped (and its staged
   * file removed), so a fold repeated after a crash never counts a unit twice.
   *
   * @return the ids applied by this call
   */
  public List<String> foldReady(int p, List<String> order) throws IOException {
    LayerPartition partition = partition(p);
    List<String> newly = new ArrayList<>();
    AccumulatorMeta meta = readMeta(p);
    Set<String> applied = meta == null ? new LinkedHashSet<>() : new LinkedHashSet<>(meta.getAppliedUnitsList());
    for (String unitId : order) {
      if (applied.contains(unitId)) {
        Files.deleteIfExists(stagedPath(unitId));
        continue;
      }
      UnitResult staged = readStaged(unitId);
      if (staged == null) {
        break; // fold order: later units wait for this one
      }
      checkMetas(staged.getTensorsList(), partition, "staged unit " + unitId);
      meta = fold(partition, meta, unitId, staged);
      applied.add(unitId);
      newly.add(unitId);
      Files.deleteIfExists(stagedPath(unitId));
    }
    return newly;
  }

  private AccumulatorMeta fold(LayerPartition partition, AccumulatorMeta meta, String unitId, UnitResult unit)
      throws IOException {
    Path acc = accumulatorPath(partition.getIndex());
    Path tmp = acc.resolveSibling(acc.getFileName() + ".tmp-" + ProcessHandle.current().pid());
    long values = values(partition);
    AccumulatorMeta.Builder next = AccumulatorMeta.newBuilder()
        .setSessionId(sessionId)
        .setPartition(partition.getIndex());
    if (meta == null) {
      next.setGeneralSamples(unit.getGeneralSamples()).setDomainSamples(unit.getDomainSamples())
          .setBatches(unit.getBatches()).setGeneralLossSum(unit.getGeneralLossSum())
          .setDomainLossSum(unit.getDomainLossSum()).addAllTensors(unit.getTensorsList());
    } else {
      next.addAllAppliedUnits(meta.getAppliedUnitsList())
          .setGeneralSamples(meta.getGeneralSamples() + unit.getGeneralSamples())
          .setDomainSamples(meta.getDomainSamples() + unit.getDomainSamples())
          .setBatches(meta.getBatches() + unit.getBatches())
          .setGeneralLossSum(meta.getGeneralLossSum() + unit.getGeneralLossSum())
          .setDomainLossSum(meta.getDomainLossSum() + unit.getDomainLossSum());
      for (int i = 0; i < meta.getTensorsCount(); i++) {
        TensorScalars a = meta.getTensors(i);
        TensorScalars b = unit.getTensors(i);
        next.addTensors(a.toBuilder().setCosineSum(a.getCosineSum() + b.getCosineSum())
            .setNegativeCosines(a.getNegativeCosines() + b.getNegativeCosines())
            .setGeneralTokens(a.getGeneralTokens() + b.getGeneralTokens())
            .setDomainTokens(a.getDomainTokens() + b.getDomainTokens()));
      }
    }
    next.addAppliedUnits(unitId);
    Files.deleteIfExists(tmp);
    try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, StandardOpenOption.READ);
        FileChannel add = FileChannel.open(stagedPath(unitId), StandardOpenOption.READ);
        FileChannel old = meta == null ? null : FileChannel.open(acc, StandardOpenOption.READ)) {
      int block = BLOCK / Double.BYTES; // values per step
      ByteBuffer a = ByteBuffer.allocate(block * Double.BYTES).order(ByteOrder.LITTLE_ENDIAN);
      ByteBuffer b = ByteBuffer.allocate(block * VALUE).order(ByteOrder.LITTLE_ENDIAN);
      ByteBuffer sum = ByteBuffer.allocate(block * Double.BYTES).order(ByteOrder.LITTLE_ENDIAN);
      for (long at = 0; at < values; at += block) {
        int count = (int) Math.min(block, values - at);
        readFully(add, b, at * VALUE, count * VALUE);
        var fb = b.asFloatBuffer();
        var ds = sum.clear().asDoubleBuffer();
        if (old != null) {
          readFully(old, a, at * Double.BYTES, count * Double.BYTES);
          var da = a.asDoubleBuffer();
          for (int i = 0; i < count; i++) {
            ds.put(i, da.get(i) + fb.get(i)); // float32 widened exactly, summed in float64
          }
        } else {
          for (int i = 0; i < count; i++) {
            ds.put(i, fb.get(i));
          }
        }
        sum.position(0).limit(count * Double.BYTES);
        long w = at * Double.BYTES;
        while (sum.hasRemaining()) {
          w += out.write(sum, w);
        }
      }
      AccumulatorMeta built = next.build();
      writeTrailer(out, values * Double.BYTES, built.toByteArray());
      out.force(true);
      moveAtomically(tmp, acc);
      return built;
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** Reads one tensor's statistics from a partition's accumulator (float64, as summed). */
  public TensorStats readTensor(int p, String name) throws IOException {
    AccumulatorMeta meta = readMeta(p);
    if (meta == null) {
      throw new IllegalStateException("partition " + p + " has no accumulator yet");
    }
    return readTensor(p, meta, name);
  }

  /**
   * Each partition's accumulator record, every file's checksum checked once (it covers the whole file: a
   * reader that checked it per tensor would read the accumulators once per tensor).
   */
  private Map<Integer, AccumulatorMeta> verifiedMetas() {
    Map<Integer, AccumulatorMeta> metas = new LinkedHashMap<>();
    for (LayerPartition p : partitions.values()) {
      AccumulatorMeta m = readMeta(p.getIndex());
      if (m == null) {
        throw new IllegalStateException("partition " + p.getIndex() + " has no accumulator yet");
      }
      metas.put(p.getIndex(), m);
    }
    return metas;
  }

  /** One tensor's statistics, with {@code meta} the partition's verified record. */
  private TensorStats readTensor(int p, AccumulatorMeta meta, String name) throws IOException {
    LayerPartition partition = partition(p);
    long base = 0;
    for (int i = 0; i < partition.getTensorsCount(); i++) {
      TensorSpec spec = partition.getTensors(i);
      if (spec.getName().equals(name)) {
        // absent statistics (Σg of a Fisher-only session, input statistics not collected) stay empty arrays
        var arrays = new java.util.EnumMap<Statistic, double[]>(Statistic.class);
        try (FileChannel ch = FileChannel.open(accumulatorPath(p), StandardOpenOption.READ)) {
          for (Statistic s : statistics) {
            int count = Math.toIntExact(ShardCodec.length(spec, s));
            ByteBuffer buf = ByteBuffer.allocate(count * Double.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, buf, base, count * Double.BYTES);
            double[] values = new double[count];
            buf.asDoubleBuffer().get(values);
            arrays.put(s, values);
            base += (long) count * Double.BYTES;
          }
        }
        TensorScalars tm = meta.getTensors(i);
        long[] shape = spec.getShapeList().stream().mapToLong(Long::longValue).toArray();
        double[] none = new double[0];
        var inputs = new InputSums(arrays.getOrDefault(Statistic.INPUT_SQ_GENERAL, none),
            arrays.getOrDefault(Statistic.INPUT_SQ_DOMAIN, none), arrays.getOrDefault(Statistic.INPUT_GRAM_GENERAL, none),
            arrays.getOrDefault(Statistic.INPUT_GRAM_DOMAIN, none), tm.getGeneralTokens(), tm.getDomainTokens());
        return new TensorStats(name, shape, arrays.get(Statistic.SUM_SQ_GENERAL),
            arrays.getOrDefault(Statistic.SUM_GENERAL, none), arrays.get(Statistic.SUM_SQ_DOMAIN),
            arrays.getOrDefault(Statistic.SUM_DOMAIN, none), tm.getCosineSum(), tm.getNegativeCosines(), inputs);
      }
      for (Statistic s : statistics) {
        base += ShardCodec.length(spec, s) * Double.BYTES;
      }
    }
    throw new IllegalArgumentException("partition " + p + " holds no tensor " + name);
  }

  /**
   * The merged statistics read tensor by tensor, when a planner asks: nothing is held. Counters are those of
   * partition 0 (every partition sees the same batches); every partition must have its accumulator.
   */
  public MergedStatistics merged() {
    Map<Integer, AccumulatorMeta> metas = verifiedMetas();
    Map<String, Integer> partitionOf = new HashMap<>();
    partitions.values().forEach(p -> p.getTensorsList().forEach(t -> partitionOf.put(t.getName(), p.getIndex())));
    AccumulatorMeta counters = metas.values().iterator().next();
    return new MergedStatistics.View(counters.getBatches(), counters.getGeneralSamples(), counters.getDomainSamples(),
        name -> {
          Integer p = partitionOf.get(name);
          return p == null ? null : readTensor(p, metas.get(p), name);
        });
  }

  /**
   * All merged statistics in memory (small models, tests, a statistics file to save; planners read tensor by
   * tensor through {@link #merged}). Counters are those of partition 0: every partition sees the same batches.
   */
  public UnitStatistics readAll() throws IOException {
    Map<Integer, AccumulatorMeta> metas = verifiedMetas();
    Map<String, TensorStats> tensors = new LinkedHashMap<>();
    for (LayerPartition p : partitions.values()) {
      for (TensorSpec t : p.getTensorsList()) {
        tensors.put(t.getName(), readTensor(p.getIndex(), metas.get(p.getIndex()), t.getName()));
      }
    }
    AccumulatorMeta first = metas.values().iterator().next();
    return new UnitStatistics(tensors, first.getGeneralSamples(), first.getDomainSamples(), first.getBatches(),
        first.getGeneralLossSum(), first.getDomainLossSum());
  }

  /** Unit ids found durable on disk (staged or applied): what the journal may not know after a crash. */
  public Map<String, Boolean> durableUnits(Map<Integer, List<String>> unitsByPartition) {
    Map<String, Boolean> out = new HashMap<>();
    for (var e : unitsByPartition.entrySet()) {
      for (String id : applied(e.getKey())) {
        out.put(id, true);
      }
      for (String id : e.getValue()) {
        if (!out.containsKey(id) && Files.exists(stagedPath(id))) {
          try {
            if (readStaged(id) != null) {
              out.put(id, false);
            }
          } catch (CorruptFileException bad) {
            // A torn staged file cannot exist (atomic rename), but a damaged disk can: drop it, recompute.
            try {
              Files.deleteIfExists(stagedPath(id));
            } catch (IOException ignored) {
              // next attempt replaces it
            }
          }
        }
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- file format

  private static void writeTrailer(FileChannel ch, long at, byte[] trailer) throws IOException {
    ByteBuffer tail = ByteBuffer.allocate(trailer.length + Long.BYTES + Integer.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    tail.put(trailer).putLong(trailer.length).putInt(MAGIC).flip();
    long pos = at;
    while (tail.hasRemaining()) {
      pos += ch.write(tail, pos);
    }
    // CRC32C of everything written so far, read back from the file (what a reader will check).
    CRC32C crc = new CRC32C();
    ByteBuffer buf = ByteBuffer.allocate(BLOCK);
    for (long p = 0; p < pos; ) {
      buf.clear().limit((int) Math.min(BLOCK, pos - p));
      int r = ch.read(buf, p);
      if (r < 0) {
        throw new IOException("short file while checksumming");
      }
      buf.flip();
      crc.update(buf);
      p += r;
    }
    ByteBuffer c = ByteBuffer.allocate(Integer.BYTES).order(ByteOrder.LITTLE_ENDIAN).putInt((int) crc.getValue()).flip();
    while (c.hasRemaining()) {
      pos += ch.write(c, pos);
    }
  }

  /** Checks a file's CRC and returns its trailer; null if the file does not exist. */
  static byte[] verify(Path f) {
    try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size < FOOTER) {
        throw new CorruptFileException(f, "too short (" + size + " bytes)");
      }
      ByteBuffer foot = ByteBuffer.allocate(FOOTER).order(ByteOrder.LITTLE_ENDIAN);
      readFully(ch, foot, size - FOOTER, FOOTER);
      long trailerLen = foot.getLong(0);
      int magic = foot.getInt(Long.BYTES);
      int stored = foot.getInt(Long.BYTES + Integer.BYTES);
      if (magic != MAGIC) {
        throw new CorruptFileException(f, "bad magic number");
      }
      if (trailerLen < 0 || trailerLen > size - FOOTER) {
        throw new CorruptFileException(f, "bad trailer length " + trailerLen);
      }
      CRC32C crc = new CRC32C();
      ByteBuffer buf = ByteBuffer.allocate(BLOCK);
      long end = size - Integer.BYTES;
      for (long p = 0; p < end; ) {
        buf.clear().limit((int) Math.min(BLOCK, end - p));
        int r = ch.read(buf, p);
        buf.flip();
        crc.update(buf);
        p += r;
      }
      if ((int) crc.getValue() != stored) {
        throw new CorruptFileException(f, String.format("CRC32C mismatch (stored %08x, computed %08x)", stored,
            (int) crc.getValue()));
      }
      ByteBuffer trailer = ByteBuffer.allocate((int) trailerLen);
      readFully(ch, trailer, size - FOOTER - trailerLen, (int) trailerLen);
      return trailer.array();
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + f, e);
    }
  }

  private static void readFully(FileChannel ch, ByteBuffer buf, long pos, int len) throws IOException {
    buf.clear().limit(len);
    while (buf.hasRemaining()) {
      int r = ch.read(buf, pos + buf.position());
      if (r < 0) {
        throw new IOException("unexpected end of file at " + (pos + buf.position()));
      }
    }
    buf.flip();
  }

  static void moveAtomically(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      throw new IOException("the file system of " + to + " cannot rename atomically; the accumulators need it", e);
    }
    // fsync the directory so the rename itself survives a power loss
    try (FileChannel d = FileChannel.open(to.getParent(), StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException ignored) {
      // some file systems do not allow opening directories; the rename is still atomic
    }
  }
}
