-- openciam schema, version 3 (SQLite): password reset.
--
-- A password change or reset deletes the user's open flows (set_user_password,
-- advance_flow_resetting_password); this index finds them.

CREATE INDEX flows_tenant_id_user_id_idx ON flows (tenant_id, user_id);
