"""The reference parameters sansip accepts and checks but does not act on
yet, by the part of sansip that will (shown as "planned" in the parameter
table and docs/reference-mapping.md; a test keeps this list and the code
in step: a parameter the code reads is not planned, one it does not read
is)."""

from __future__ import annotations

from typing import Final

__all__ = ["PLANNED"]

_PARTS: Final = {
    "NAT traversal (STUN, TURN, ICE)":
        "stunserveraddress turnserveraddress turnparameters turnusername turnpassword icetimeout "
        "stunturnonlocal udpconnect rtpport use_rport use_fast_stun use_fast_ice",
    "the WebSocket transport": "webrtcserveraddress wskeepaliveival",
    "the web back end (HTTP callbacks, accounts, address book, SMS)":
        "scurl_onstart scurl_onoutcallsetup scurl_onoutcallringing scurl_onoutcallconnected "
        "scurl_onoutcalldisconnected scurl_oninccallsetup scurl_oninccallringing "
        "scurl_oninccallconnected scurl_oninccalldisconnected scurl_oninchat scurl_onoutchat "
        "scurl_setparameters scurl_displaypeerdetails serveraddressbook_url "
        "serveraddressbook_sync newuser recharge p2p sms creditrequest ratingrequest "
        "voicerecupload callbacknumber callreceiver textmessaging defcontacts normalize_contact",
    "video": "vcodec prefvcodec video video_bandwidth video_width video_height video_min_width "
             "video_min_height video_max_width video_max_height screensharing fixvideo",
    "logging and statistics reports":
        "loglevel maxloglevel logtoconsole rtpstat jscripstats vadstat vadstat_ival "
        "enablenomicvoicewarning",
    "registration and transport policies":
        "mustconnect regtimeout backupserver serveraddressfirst autotransportdetect "
        "enablefallback autostart forcereregister needunregister sendregisternotifications "
        "contactdomain contact_uri_parameters contact_parameters allowsipuriasusername",
    "call policies":
        "invrecorderoute setfinalcodec enableearlyreinvite separatechatdiag apibehaviour "
        "useaudiorecord useaudiodevicerecord sendrtponmuted nostopring ringincall playdtmfsound "
        "alwaysallowlowcodec codeframecount audio_bandwidth aec2 conferencetype enablepresence "
        "presenceuserlist enableblf blfuserlist resetsettings configversion callto autoaction "
        "voicemailnum normalizenumber techprefix numpxrewrite calltransferalways autoignore "
        "beeponincoming beeponconnect redialonfail muteholdalllines automute muteonhold "
        "changesptoring ringtimeoutin ringtimeoutout bargeinheader voicerecording",
    "transfer policies":
        "transfwithreplace replacetype discontransfer disconincomingrefer inversetransfer "
        "transferdelay newdialogforrefer holdontransfer unholdontransfer",
}  # fmt: skip

#: Parameter name -> the part of sansip that will act on it.
PLANNED: Final[dict[str, str]] = {
    name: part for part, names in _PARTS.items() for name in names.split()
}
