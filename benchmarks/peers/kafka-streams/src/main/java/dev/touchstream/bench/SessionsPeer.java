// The Kafka Streams peer: the same sessionisation as touchstream (30-min inactivity gap, 5 s grace, emitted once a window closes) over the JSON events.
package dev.touchstream.bench;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.processor.TimestampExtractor;
import org.apache.kafka.streams.state.SessionStore;

public final class SessionsPeer {
  /** The fields of a contract event the sessionisation needs; everything else in the JSON is skipped. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public static final class Event {
    public String type;
    public String channel;
    public String occurred_at;
    public long time;
  }

  /** A session's aggregate: first and last event time and the number of events. */
  public static final class Session {
    long start = Long.MAX_VALUE;
    long last = Long.MIN_VALUE;
    long events;
  }

  static final Set<String> SESSION_TYPES = Set.of("page_view", "click", "add_to_cart", "remove_from_cart", "checkout_start",
      "checkout_error", "purchase", "video_start", "video_progress", "video_complete");
  static final Set<String> SESSION_CHANNELS = Set.of("web", "app");

  static Serde<Event> eventSerde() {
    ObjectMapper mapper = new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
    Deserializer<Event> deserializer = (topic, bytes) -> {
      try {
        Event event = mapper.readValue(bytes, Event.class);
        event.time = OffsetDateTime.parse(event.occurred_at).toInstant().toEpochMilli();
        return event;
      } catch (Exception error) {
        throw new RuntimeException(error);
      }
    };
    Serializer<Event> serializer = (topic, event) -> {
      throw new UnsupportedOperationException("events are never re-serialised");
    };
    return Serdes.serdeFrom(serializer, deserializer);
  }

  static Serde<Session> sessionSerde() {
    Serializer<Session> serializer = (topic, session) -> ByteBuffer.allocate(24).putLong(session.start).putLong(session.last).putLong(session.events).array();
    Deserializer<Session> deserializer = (topic, bytes) -> {
      if (bytes == null) return null;
      ByteBuffer buffer = ByteBuffer.wrap(bytes);
      Session session = new Session();
      session.start = buffer.getLong();
      session.last = buffer.getLong();
      session.events = buffer.getLong();
      return session;
    };
    return Serdes.serdeFrom(serializer, deserializer);
  }

  /** Event time is the event's occurred_at, as for touchstream. */
  public static final class OccurredAt implements TimestampExtractor {
    @Override
    public long extract(ConsumerRecord<Object, Object> record, long partitionTime) {
      return ((Event) record.value()).time;
    }
  }

  public static void main(String[] args) throws Exception {
    String brokers = args[0];
    String input = args[1];
    String output = args[2];
    long expected = Long.parseLong(args[3]);
    String applicationId = args[4];
    String stateDir = args[5];
    String markerPrefix = args[6];

    Properties config = new Properties();
    config.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
    config.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    config.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    config.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    // touchstream flushes its sinks every second; Kafka Streams' cache is flushed on commit, so the same cadence.
    config.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 1000);
    config.put(StreamsConfig.DEFAULT_TIMESTAMP_EXTRACTOR_CLASS_CONFIG, OccurredAt.class);
    config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");

    AtomicLong firstRecordAt = new AtomicLong();
    AtomicLong closed = new AtomicLong();
    AtomicLong doneAt = new AtomicLong();
    CountDownLatch done = new CountDownLatch(1);

    StreamsBuilder builder = new StreamsBuilder();
    builder.stream(input, Consumed.with(Serdes.String(), eventSerde()))
        .peek((key, event) -> firstRecordAt.compareAndSet(0, System.currentTimeMillis()))
        .filter((key, event) -> SESSION_TYPES.contains(event.type) && SESSION_CHANNELS.contains(event.channel))
        .groupByKey()
        .windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofMinutes(30), Duration.ofSeconds(5)))
        .aggregate(
            Session::new,
            (key, event, session) -> {
              session.start = Math.min(session.start, event.time);
              session.last = Math.max(session.last, event.time);
              session.events++;
              return session;
            },
            (key, left, right) -> {
              Session merged = new Session();
              merged.start = Math.min(left.start, right.start);
              merged.last = Math.max(left.last, right.last);
              merged.events = left.events + right.events;
              return merged;
            },
            Materialized.<String, Session, SessionStore<Bytes, byte[]>>as("sessions").withValueSerde(sessionSerde()))
        .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
        .toStream()
        .map((window, session) -> KeyValue.pair(window.key(), session))
        .peek((key, session) -> {
          if (key.startsWith(markerPrefix)) return;
          if (closed.incrementAndGet() == expected) {
            doneAt.set(System.currentTimeMillis());
            done.countDown();
          }
        })
        .to(output, Produced.with(Serdes.String(), sessionSerde()));

    KafkaStreams streams = new KafkaStreams(builder.build(), config);
    long startedAt = System.currentTimeMillis();
    streams.start();
    boolean finished = done.await(Long.parseLong(System.getProperty("bench.timeoutSeconds", "600")), TimeUnit.SECONDS);
    System.out.println("{\"event\":\"" + (finished ? "done" : "timeout") + "\",\"startedAt\":" + startedAt + ",\"firstRecordAt\":" + firstRecordAt.get()
        + ",\"at\":" + doneAt.get() + ",\"sessions\":" + closed.get() + "}");
    System.out.flush();
    streams.close(Duration.ofSeconds(10));
    System.exit(finished ? 0 : 2);
  }
}
