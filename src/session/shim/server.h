/*
 * \brief  Server side of the Snapper session: root and session component
 * \date   2026-11-26
 *
 * Rust owns every decision; the session component only forwards each RPC
 * with its shared buffer to the callbacks given to 'sg_serve'.
 */

#ifndef _SHIM__SERVER_H_
#define _SHIM__SERVER_H_

/* Genode includes */
#include <base/attached_ram_dataspace.h>
#include <base/rpc_server.h>
#include <root/component.h>

/* Snapper includes */
#include <snapper_session/snapper_session.h>
#include "snapper_session_abi.h"
#include "types.h"

namespace Snapper {
	struct Session_component;
	struct Root;
}


struct Snapper::Session_component : Rpc_object<Session>
{
	sg_session_ops const   &_ops;
	sg_u64           const  _id;
	Attached_ram_dataspace  _buffer;

	Session_component(Env &env, sg_session_ops const &ops, sg_u64 id,
	                  size_t bufsize)
	:
		_ops(ops), _id(id), _buffer(env.ram(), env.rm(), bufsize)
	{ }

	~Session_component() { _ops.session_closed(_ops.ctx, _id); }

	sg_u8 *_buf() { return _buffer.local_addr<sg_u8>(); }

	static Result _result(sg_u32 value) { return Result(value); }

	static sg_size_t _name_len(Generation_name const &name)
	{
		/* 'length' counts the terminating zero */
		return name.length() ? name.length() - 1 : 0;
	}

	Dataspace_capability _dataspace() override { return _buffer.cap(); }

	Result init_snapshot() override {
		return _result(_ops.init_snapshot(_ops.ctx, _id)); }

	Result _take_snapshot(size_t size, Archive::ArchiveKey id) override {
		return _result(_ops.take_snapshot(_ops.ctx, _id, _buf(), _buffer.size(),
		                                  size, id)); }

	Result commit_snapshot() override {
		return _result(_ops.commit_snapshot(_ops.ctx, _id)); }

	Result open_generation(Generation_name const &name) override {
		return _result(_ops.open_generation(_ops.ctx, _id, name.string(),
		                                    _name_len(name))); }

	Result _restore(size_t size, Archive::ArchiveKey id) override {
		return _result(_ops.restore(_ops.ctx, _id, _buf(), _buffer.size(),
		                            size, id)); }

	Result close_generation() override {
		return _result(_ops.close_generation(_ops.ctx, _id)); }

	Result purge(Generation_name const &name) override {
		return _result(_ops.purge(_ops.ctx, _id, name.string(), _name_len(name))); }

	Result purge_expired() override {
		return _result(_ops.purge_expired(_ops.ctx, _id)); }

	Result purge_zombies() override {
		return _result(_ops.purge_zombies(_ops.ctx, _id)); }

	Result _take_batch() override {
		return _result(_ops.take_batch(_ops.ctx, _id, _buf(), _buffer.size())); }

	Result _restore_batch() override {
		return _result(_ops.restore_batch(_ops.ctx, _id, _buf(), _buffer.size())); }
};


struct Snapper::Root : Root_component<Session_component>
{
	Env                  &_env;
	sg_session_ops const &_ops;
	size_t         const  _bufsize;
	sg_u64                _next_id = 1;

	Create_result _create_session(char const *) override
	{
		/*
		 * The dataspace constructor still reports exhaustion by exception;
		 * turn it into the 26.02 result type.
		 */
		try {
			return _alloc_obj(_env, _ops, _next_id++, _bufsize);
		}
		catch (Out_of_ram)  { return Create_error::INSUFFICIENT_RAM; }
		catch (Out_of_caps) { return Create_error::INSUFFICIENT_CAPS; }
		catch (...)         { return Create_error::DENIED; }
	}

	Root(Env &env, Allocator &md_alloc, sg_session_ops const &ops, size_t bufsize)
	:
		Root_component<Session_component>(env.ep(), md_alloc),
		_env(env), _ops(ops), _bufsize(bufsize)
	{ }
};

#endif /* _SHIM__SERVER_H_ */
