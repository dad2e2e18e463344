"""Reading crm_mon --output-as=xml: who is primary, what runs, what failed."""

from __future__ import annotations

import pytest

from genweb.commit.clusterstate import StateUnreadable, parse_crm_mon

XML = """<pacemaker-result api-version="2.25" request="crm_mon --output-as=xml">
  <summary><current_dc present="true" name="node2" with_quorum="true"/></summary>
  <nodes>
    <node name="node1" id="1" online="true" type="member"/>
    <node name="node2" id="2" online="true" type="member"/>
    <node name="node3" id="3" online="false" type="member"/>
  </nodes>
  <resources>
    <group id="ip_group" number_resources="2">
      <resource id="failover_ip1" role="Started" active="true" failed="false"><node name="node2" id="2"/></resource>
      <resource id="failover_ip2" role="Started" active="true" failed="false"><node name="node2" id="2"/></resource>
    </group>
    <resource id="kam_heartbeats" role="{kam_role}" active="true" failed="false"><node name="node2" id="2"/></resource>
    <clone id="redis_clone" multi_state="true">
      <resource id="redis_prim" role="Promoted" active="true" failed="false"><node name="node2" id="2"/></resource>
      <resource id="redis_prim" role="Unpromoted" active="true" failed="false"><node name="node1" id="1"/></resource>
    </clone>
  </resources>
  <failures>
    <failure op_key="kam_heartbeats_start_0" node="node1" exitstatus="error" exitreason="" task="start"/>
    <failure op_key="rtpeng_prim_monitor_10000" node="node1" exitstatus="not running" exitreason="rtpengine died" task="monitor"/>
  </failures>
</pacemaker-result>"""


def test_the_primary_and_the_service():
    state = parse_crm_mon(XML.format(kam_role="Started"))
    assert state.quorate and state.online == ("node1", "node2")
    assert state.primary == "node2" and state.service_node == "node2"
    assert state.running["redis_clone"] == ("node2", "node1")
    assert state.running["redis_clone:Promoted"] == ("node2",)
    assert [str(f) for f in state.failures] == ["kam_heartbeats start on node1: error",
                                                "rtpeng_prim monitor on node1: rtpengine died"]
    assert state.failures_of("kam_heartbeats")[0].node == "node1"


def test_a_starting_kamailio_is_not_a_running_service():
    state = parse_crm_mon(XML.format(kam_role="Starting"))
    assert state.primary == "node2" and state.service_node is None


def test_a_half_started_group_is_no_primary_and_garbage_is_refused():
    half = XML.format(kam_role="Started").replace(
        '<resource id="failover_ip2" role="Started"', '<resource id="failover_ip2" role="Stopped"')
    assert parse_crm_mon(half).primary is None
    with pytest.raises(StateUnreadable):
        parse_crm_mon("crm_mon: Error: cluster is not available on this node")
