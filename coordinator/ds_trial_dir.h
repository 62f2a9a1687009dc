/* ds_trial_dir.h — where exec trials keep their files: one directory per campaign beside the
 * database, one per trial key inside it (worker/task_exec.c says what a trial directory holds).
 *
 *   <db>.trials/<campaign_id>-<name>/<trial_key>/{attempt-N.out, attempt-N.err, params.json,
 *                                                 checkpoint/, work/ ...}
 *
 * The campaign id is part of the name so that `run --fresh` (which moves the old campaign aside
 * under another name and starts a new one with the same trial keys) never hands a new trial the
 * old one's checkpoint.  Pure string work plus getcwd(): any thread may call.
 */
#ifndef DS_TRIAL_DIR_H
#define DS_TRIAL_DIR_H

#include <stddef.h>
#include <stdint.h>

/* Writes the absolute campaign directory into out.  Returns 0, or DS_EIO when the path does not
 * fit (out is then ""). */
int ds_trial_dir_campaign(const char *db_path, int64_t campaign_id, const char *name, char *out, size_t len);

#endif /* DS_TRIAL_DIR_H */
