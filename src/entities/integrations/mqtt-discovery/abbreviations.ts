// Home Assistant MQTT discovery's abbreviated keys (homeassistant/components/mqtt/abbreviations.py:
// ABBREVIATIONS and DEVICE_ABBREVIATIONS, plus the newer device-based discovery keys `cmps`, `o`,
// `p`). Devices send either form; the config is expanded before anything reads it.

const KEYS: Record<string, string> = {
  act_t: 'action_topic',
  act_tpl: 'action_template',
  avty: 'availability',
  avty_mode: 'availability_mode',
  avty_t: 'availability_topic',
  avty_tpl: 'availability_template',
  bri_cmd_t: 'brightness_command_topic',
  bri_cmd_tpl: 'brightness_command_template',
  bri_scl: 'brightness_scale',
  bri_stat_t: 'brightness_state_topic',
  bri_val_tpl: 'brightness_value_template',
  clr_temp_cmd_t: 'color_temp_command_topic',
  clr_temp_cmd_tpl: 'color_temp_command_template',
  clr_temp_stat_t: 'color_temp_state_topic',
  clr_temp_val_tpl: 'color_temp_value_template',
  clrm: 'color_mode',
  clrm_stat_t: 'color_mode_state_topic',
  clrm_val_tpl: 'color_mode_value_template',
  cmd_off_tpl: 'command_off_template',
  cmd_on_tpl: 'command_on_template',
  cmd_t: 'command_topic',
  cmd_tpl: 'command_template',
  cmps: 'components',
  curr_temp_t: 'current_temperature_topic',
  curr_temp_tpl: 'current_temperature_template',
  def_ent_id: 'default_entity_id',
  dev: 'device',
  dev_cla: 'device_class',
  e: 'encoding',
  en: 'enabled_by_default',
  ent_cat: 'entity_category',
  evt_typ: 'event_types',
  exp_aft: 'expire_after',
  frc_upd: 'force_update',
  fx_cmd_t: 'effect_command_topic',
  fx_cmd_tpl: 'effect_command_template',
  fx_list: 'effect_list',
  fx_stat_t: 'effect_state_topic',
  fx_tpl: 'effect_template',
  fx_val_tpl: 'effect_value_template',
  ic: 'icon',
  json_attr: 'json_attributes',
  json_attr_t: 'json_attributes_topic',
  json_attr_tpl: 'json_attributes_template',
  l_ver_t: 'latest_version_topic',
  l_ver_tpl: 'latest_version_template',
  max_mirs: 'max_mireds',
  min_mirs: 'min_mireds',
  max_temp: 'max_temp',
  min_temp: 'min_temp',
  mode_cmd_t: 'mode_command_topic',
  mode_cmd_tpl: 'mode_command_template',
  mode_stat_t: 'mode_state_topic',
  mode_stat_tpl: 'mode_state_template',
  o: 'origin',
  obj_id: 'object_id',
  ops: 'options',
  opt: 'optimistic',
  p: 'platform',
  pct_cmd_t: 'percentage_command_topic',
  pct_cmd_tpl: 'percentage_command_template',
  pct_stat_t: 'percentage_state_topic',
  pct_val_tpl: 'percentage_value_template',
  pl: 'payload',
  pl_avail: 'payload_available',
  pl_cls: 'payload_close',
  pl_inst: 'payload_install',
  pl_lock: 'payload_lock',
  pl_not_avail: 'payload_not_available',
  pl_off: 'payload_off',
  pl_on: 'payload_on',
  pl_open: 'payload_open',
  pl_prs: 'payload_press',
  pl_stop: 'payload_stop',
  pl_unlk: 'payload_unlock',
  pos_clsd: 'position_closed',
  pos_open: 'position_open',
  pos_t: 'position_topic',
  pos_tpl: 'position_template',
  pr_mode_cmd_t: 'preset_mode_command_topic',
  pr_mode_cmd_tpl: 'preset_mode_command_template',
  pr_mode_stat_t: 'preset_mode_state_topic',
  pr_mode_val_tpl: 'preset_mode_value_template',
  pr_modes: 'preset_modes',
  ret: 'retain',
  schema: 'schema',
  set_pos_t: 'set_position_topic',
  set_pos_tpl: 'set_position_template',
  spd_rng_max: 'speed_range_max',
  spd_rng_min: 'speed_range_min',
  stat_cla: 'state_class',
  stat_clsd: 'state_closed',
  stat_closing: 'state_closing',
  stat_jam: 'state_jammed',
  stat_locked: 'state_locked',
  stat_locking: 'state_locking',
  stat_off: 'state_off',
  stat_on: 'state_on',
  stat_open: 'state_open',
  stat_opening: 'state_opening',
  stat_stopped: 'state_stopped',
  stat_t: 'state_topic',
  stat_tpl: 'state_template',
  stat_unlocked: 'state_unlocked',
  stat_unlocking: 'state_unlocking',
  stat_val_tpl: 'state_value_template',
  sup_clrm: 'supported_color_modes',
  t: 'topic',
  temp_cmd_t: 'temperature_command_topic',
  temp_cmd_tpl: 'temperature_command_template',
  temp_stat_t: 'temperature_state_topic',
  temp_stat_tpl: 'temperature_state_template',
  temp_step: 'temp_step',
  temp_unit: 'temperature_unit',
  uniq_id: 'unique_id',
  unit_of_meas: 'unit_of_measurement',
  val_tpl: 'value_template',
};

const DEVICE_KEYS: Record<string, string> = {
  cns: 'connections',
  cu: 'configuration_url',
  hw: 'hw_version',
  ids: 'identifiers',
  mdl: 'model',
  mdl_id: 'model_id',
  mf: 'manufacturer',
  sa: 'suggested_area',
  sn: 'serial_number',
  sw: 'sw_version',
  via_device: 'via_device',
};

const ORIGIN_KEYS: Record<string, string> = { sw: 'sw_version', url: 'support_url' };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function expand(o: Obj, keys: Record<string, string>): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) out[keys[k] ?? k] = v;
  return out;
}

/** The config with every abbreviation written out, and `~` put into each topic that uses it. */
export function expandConfig(raw: Obj): Obj {
  const c = expand(raw, KEYS);
  if (isObj(c.device)) c.device = expand(c.device, DEVICE_KEYS);
  if (isObj(c.origin)) c.origin = expand(c.origin, ORIGIN_KEYS);
  if (Array.isArray(c.availability)) c.availability = c.availability.map((a) => (isObj(a) ? expand(a, KEYS) : a));
  if (isObj(c.components))
    c.components = Object.fromEntries(
      Object.entries(c.components).map(([k, v]) => [k, isObj(v) ? expandConfig(v) : v]),
    );
  const base = typeof c['~'] === 'string' ? c['~'] : undefined;
  if (base !== undefined) {
    const fill = (o: Obj) => {
      for (const [k, v] of Object.entries(o))
        if ((k === 'topic' || k.endsWith('_topic')) && typeof v === 'string')
          o[k] = v.startsWith('~') ? base + v.slice(1) : v.endsWith('~') ? v.slice(0, -1) + base : v;
    };
    fill(c);
    if (Array.isArray(c.availability)) for (const a of c.availability) if (isObj(a)) fill(a);
  }
  return c;
}
