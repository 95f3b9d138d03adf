-- 0010: social mentions (issue #17). Posts and comments from {ns}.social.raw are feedback of
-- source 'social' (the platform is the channel, the brand found in the text); their likes,
-- comments and shares together are `engagement` (0 for every other source).

ALTER TABLE feedback ADD COLUMN engagement UInt32 DEFAULT 0 AFTER csat;
