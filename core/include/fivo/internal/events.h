/* TensorBoard event files: `events.out.tfevents.<time>.<host>`, a TFRecord
 * stream (see fivo/tfrecord.h for the framing) of serialized tensorflow.Event
 * protobuf messages, as tf.summary's writers produce and TensorBoard reads:
 *   Event   { double wall_time = 1; int64 step = 2; string file_version = 3;
 *             Summary summary = 5; }
 *   Summary { repeated Value value = 1; }
 *   Value   { string tag = 1; float simple_value = 2; }
 * The first event of a file carries file_version "brain.Event:2"; every later
 * one a Summary of scalars at one step.
 *
 * Events are appended, each record with one write() on an O_APPEND
 * descriptor, so a file cut anywhere (crash, copy of a running job) reads
 * back up to its last whole event, and the file can be followed live. */
#ifndef FIVO_EVENTS_H
#define FIVO_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include <fivo/error.h>
#include <fivo/report.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Creates a new event file in `logdir` (which must exist), named
 * events.out.tfevents.<floor(wall_time)>.<hostname> (".<pid>" appended when
 * that name is taken), writes its file_version event and copies its path
 * into path[path_size]. */
fivo_status fivo_events_create(const char *logdir, double wall_time, char *path,
                               size_t path_size, fivo_error *err);

/* Appends one event at `step` with n scalars tags[i] = values[i] (stored as
 * float, TensorBoard's simple_value). */
fivo_status fivo_events_append_scalars(const char *path, double wall_time, int64_t step,
                                       const char *const *tags, const double *values, int n,
                                       fivo_error *err);

/* Appends the numbers of a report (every int and number except `time` and
 * `step`, which become the event's wall_time and step) as one event, each
 * tagged <tag_prefix><name>. A report without numbers writes nothing. */
fivo_status fivo_events_append_report(const char *path, const fivo_report *r,
                                      const char *tag_prefix, fivo_error *err);

/* The protobuf encoding of one Event (for tests and tools): writes at most
 * cap bytes to out and returns the full encoded size (call with cap 0 to
 * size a buffer). file_version may be NULL; n may be 0. */
size_t fivo_events_encode(uint8_t *out, size_t cap, double wall_time, int64_t step,
                          const char *file_version, const char *const *tags,
                          const double *values, int n);

#ifdef __cplusplus
}
#endif
#endif
