-- Participant schedules: one-off and recurring reminders posted as bot messages into the
-- participant's latest open conversation. A ScheduleObject per participant holds an alarm
-- set to the earliest next_due_at of its active schedules; this table is the truth.
CREATE TABLE schedules (
  id TEXT PRIMARY KEY,
  team_id TEXT NOT NULL REFERENCES teams (id),
  chatbot_id TEXT NOT NULL REFERENCES chatbots (id),
  participant_id TEXT NOT NULL REFERENCES participants (id),
  name TEXT NOT NULL,
  message TEXT NOT NULL,
  -- The first due time as a zoned date-time (RFC 9557, e.g. 2026-03-28T09:00:00+01:00[Europe/Paris]):
  -- every occurrence is counted from it, so the wall-clock time survives DST and short months.
  anchor TEXT NOT NULL,
  -- The participant's timezone when the series was anchored (UTC where it had none).
  timezone TEXT NOT NULL,
  every_count INTEGER,
  every_unit TEXT CHECK (every_unit IN ('minutes', 'hours', 'days', 'weeks', 'months')),
  repetitions INTEGER,
  end_at TEXT,
  -- Index of next_due_at in the series counted from anchor (0 is the anchor itself).
  occurrence INTEGER NOT NULL DEFAULT 0,
  -- UTC, Date.toISOString() form so text order is time order; NULL unless active.
  next_due_at TEXT,
  fired_count INTEGER NOT NULL DEFAULT 0,
  skipped_count INTEGER NOT NULL DEFAULT 0,
  last_fired_at TEXT,
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'cancelled')),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  CHECK ((every_count IS NULL) = (every_unit IS NULL))
);
-- The object's reads (due now, earliest due) and the participant's list.
CREATE INDEX schedules_by_participant_status ON schedules (participant_id, status, next_due_at);
CREATE INDEX schedules_by_participant ON schedules (participant_id, id);
